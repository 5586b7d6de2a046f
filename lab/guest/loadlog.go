package guest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/modlab/modlab/kmod/kmsg"
	"github.com/modlab/modlab/kmod/loader"
	"github.com/modlab/modlab/kmod/modname"
)

// maxLoadLogLines bounds the kernel log lines a failed load's message carries.
const maxLoadLogLines = 10

// loadFile loads a module file and, when the kernel refuses it, adds to the
// error what the kernel logged about the module meanwhile, as insmod's
// hints do: "...; kernel log: LINE". When the module's init returned the
// error, every line logged during the load is the module's own.
func (g *guest) loadFile(path, params string) error {
	klog, err := kmsg.Open("/dev/kmsg", false)
	if err == nil {
		defer klog.Close()
		if klog.SeekEnd() != nil {
			klog = nil
		}
	}
	err = g.ld.LoadFile(path, params)
	var le *loader.Error
	if err == nil || klog == nil || !errors.As(err, &le) || le.Err != nil {
		return err
	}
	var msgs []string
	for {
		r, err := klog.Next()
		if err != nil {
			break
		}
		msgs = append(msgs, strings.ReplaceAll(r.Message, "\n", " "))
	}
	lines := loader.ModuleLines(modname.FromPath(path), path, le.InitFailed, msgs)
	if len(lines) == 0 {
		return err
	}
	if len(lines) > maxLoadLogLines {
		lines = lines[:maxLoadLogLines]
	}
	return fmt.Errorf("%w; kernel log: %s", err, strings.Join(lines, "; kernel log: "))
}
