package lab

import (
	"context"
	"path/filepath"
	"time"

	"github.com/modlab/modlab/lab/qemu"
	"github.com/modlab/modlab/lab/snapshot"
)

// Saved guests. Under TCG the first boot of a kernel with a given
// configuration saves the guest at /init's "ready" (lab/snapshot), and
// every later boot of it, in this run or another, restores that guest
// instead of booting: 0.6 s instead of the debug kernel's 11 s to ready,
// or a Debian kernel's 3.5 s. Everything a unit does happens after
// "ready", in a guest that has never seen the work: the plan, read after
// "go", sets its clock and adds entropy, so restored guests neither share
// a clock from the past nor a random state (lab/guest).
//
// Not under KVM, where a boot takes about a second and restoring was
// never tried here (KVM does not work on the lab's machines), nor for an
// interactive shell, whose console is the terminal, nor with
// Options.ColdBoot.

// guestStart is how one boot starts: from a saved guest, or by booting
// the kernel and, when this boot holds the entry's claim, saving it.
type guestStart struct {
	cfg     qemu.VMConfig
	entry   snapshot.Entry
	restore bool            // start from entry's saved guest
	claim   *snapshot.Claim // held: save the guest into entry at ready
}

// snapshots is the store of saved guests (Options.SnapshotDir).
func (o *Options) snapshots() snapshot.Store {
	if o.SnapshotDir != "" {
		return snapshot.Store{Dir: o.SnapshotDir}
	}
	return snapshot.Store{Dir: filepath.Join(o.CacheDir, "snapshots")}
}

// savesGuests says whether this kernel's boots use saved guests.
func (r *kernelRun) savesGuests() bool {
	return r.o.CacheDir != "" && !r.o.ColdBoot && r.sh.accel.Accel == "tcg" && !hasShell(r.units)
}

// vmConfig is the configuration of this kernel's boots.
func (r *kernelRun) vmConfig() qemu.VMConfig {
	return qemu.VMConfig{
		QEMU: r.o.QEMU, Image: r.image, Initramfs: r.initramfs, Disk: r.disk,
		MemoryMB: r.o.MemoryMB, Append: kernelArgs(r.k, r.o.Append), Accel: r.sh.accel.QEMUArgs(),
		ConsoleLog: r.res.ConsoleLog, TmpDir: r.runDir,
		Interactive: hasShell(r.units), Stdin: r.o.Stdin, Stdout: r.o.Stdout,
	}
}

// startFrom decides how the next boot starts. With restore false it
// boots (a restore just failed). When another process is making the
// entry, it waits for that and restores; a fresh boot, which holds a VM
// slot already, does not wait: the other process may wait for the slot.
func (r *kernelRun) startFrom(ctx context.Context, restore bool) (guestStart, error) {
	s := guestStart{cfg: r.vmConfig()}
	if !r.savesGuests() {
		return s, nil
	}
	// The key is the same for every boot of the run: the kernel and the
	// initramfs are read once.
	if r.stateKey == "" {
		key, err := qemu.StateKey(s.cfg)
		if err != nil {
			r.progress("booting without a saved guest: %v", err)
			return s, nil
		}
		r.stateKey = key
	}
	s.entry = r.o.snapshots().Entry(r.k.Release, r.stateKey)
	if restore && s.entry.Saved() {
		s.restore = true
		return s, nil
	}
	var c *snapshot.Claim
	var err error
	if r.slot != nil {
		c, err = s.entry.TryClaim()
	} else {
		c, err = s.entry.Claim(ctx, func() { r.progress("waiting for another run's boot of this kernel, to restore it") })
	}
	if err != nil || c == nil {
		return s, err
	}
	if restore && s.entry.Saved() {
		c.Release()
		s.restore = true
		return s, nil
	}
	s.claim = c
	return s, nil
}

// save saves the guest, which waits at ready, for later boots, when this
// boot holds the claim; a guest that cannot be saved only costs later
// runs their boot.
func (s *guestStart) save(r *kernelRun, vm *qemu.VM) {
	if s.claim == nil {
		return
	}
	defer s.claim.Release()
	t0 := time.Now()
	err := s.entry.KeepConsole(r.res.ConsoleLog)
	if err == nil {
		err = vm.Save(s.entry.State)
	}
	if err != nil {
		s.entry.Discard()
		r.progress("could not save the booted guest, later runs boot too: %v", err)
		return
	}
	r.o.snapshots().Prune(r.k.Release)
	r.progress("saved the booted guest for later runs (%.1fs)", time.Since(t0).Seconds())
}

// done gives up the claim if save did not.
func (s *guestStart) done() { s.claim.Release() }
