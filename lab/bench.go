package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/modlab/modlab/lab/proto"
	"github.com/modlab/modlab/lab/qemu"
)

// BareBoot boots kernel k with the lab's image and command line but an
// /init that stops the VM at once, and returns the wall time from QEMU's start to its exit:
// the baseline every lab run is compared with.
func BareBoot(ctx context.Context, o Options, k Kernel) (time.Duration, error) {
	o.setDefaults()
	initBin := o.Self
	if initBin == "" {
		var err error
		if initBin, err = SelfBinary(ctx, o.SrcRoot, o.CacheDir); err != nil {
			return 0, err
		}
	}
	img, err := Initramfs(ImageSpec{Kernel: k, Init: initBin, Busybox: o.Busybox}, o.CacheDir)
	if err != nil {
		return 0, err
	}
	kimg, err := BootImage(k, o.CacheDir)
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "modlab-bare-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	disk := filepath.Join(dir, "work.img")
	if err := CreateDisk(disk); err != nil {
		return 0, err
	}
	choice, err := o.chooseAccel(ctx)
	if err != nil {
		return 0, err
	}
	slot, err := o.vmSlot(ctx, nil) // as a run's kernel does; the time starts after
	if err != nil {
		return 0, err
	}
	defer slot.Release()
	vm, err := qemu.Boot(ctx, qemu.VMConfig{QEMU: o.QEMU, Image: kimg, Accel: choice.QEMUArgs(), Initramfs: img, Disk: disk,
		MemoryMB: o.MemoryMB, Append: kernelArgs(k, "modlab_bare=1"), ConsoleLog: filepath.Join(dir, "console.log"),
		TmpDir: dir})
	if err != nil {
		return 0, err
	}
	for e := range vm.Events() {
		if e.Ev == proto.EvHello {
			vm.Kill()
			return 0, fmt.Errorf("bare boot ran the full /init (modlab_bare not seen)")
		}
	}
	if err := vm.Wait(60 * time.Second); err != nil {
		return 0, fmt.Errorf("bare boot: %w", err)
	}
	return time.Since(vm.Started), nil
}
