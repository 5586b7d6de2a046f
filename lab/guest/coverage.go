package guest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/modlab/modlab/lab/proto"
)

// resetCoverage clears the kernel's gcov counters, and drops the data it
// kept of modules unloaded earlier, so that a unit's figures are its own
// (writing to gcov's reset file does both).
func resetCoverage() error {
	return os.WriteFile(filepath.Join(proto.GcovRoot, "reset"), []byte("1\n"), 0)
}

// sendCoverage sends the unit's gcov data files: every .gcda under the
// directory where its objects were compiled. It runs once the unit's
// modules are unloaded; the kernel keeps their data (gcov_persist) until
// the next reset. A unit whose modules never loaded has no data: nothing
// is sent, and the host counts its code as never run.
func (g *guest) sendCoverage(u proto.Unit) {
	if _, err := os.Stat(proto.GcovRoot); err != nil {
		g.send(proto.Event{Ev: proto.EvCoverage, Unit: u.Name,
			Msg: "the kernel has no gcov data in debugfs (" + proto.GcovRoot + "): it needs CONFIG_GCOV_KERNEL=y"})
		return
	}
	root := filepath.Join(proto.GcovRoot, filepath.Clean("/"+u.Coverage))
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(p, ".gcda") {
			return nil // directories, and the links to the .gcno files
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		g.send(proto.Event{Ev: proto.EvCoverage, Unit: u.Name, Name: strings.TrimPrefix(p, proto.GcovRoot), Data: data})
		return nil
	})
	if err != nil {
		g.send(proto.Event{Ev: proto.EvCoverage, Unit: u.Name, Msg: "collect gcov data: " + err.Error()})
	}
}
