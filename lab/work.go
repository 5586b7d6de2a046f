package lab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/modlab/modlab/lab/proto"
)

// DiskSize is the size of the work disk the guest sees. The file is sparse;
// only the header and the archive are written. It is fixed so that a VM
// saved at "ready" can be given any later work.
const DiskSize = 1 << 30

// Work is the archive the guest reads after "go": plan.json and the units'
// files.
type Work struct {
	recs []cpio.Record
}

// AddFile adds a file from the host.
func (w *Work) AddFile(name, hostPath string, mode os.FileMode) error {
	data, err := os.ReadFile(hostPath)
	if err != nil {
		return err
	}
	w.AddBytes(name, data, mode)
	return nil
}

// AddBytes adds a file with the given contents.
func (w *Work) AddBytes(name string, data []byte, mode os.FileMode) {
	w.recs = append(w.recs, cpio.StaticRecord(data, cpio.Info{Name: name, Mode: cpio.S_IFREG | uint64(mode.Perm())}))
}

// WriteDisk writes the header and the archive, with plan.json, to the disk
// image at path (created sparse at DiskSize if needed).
func (w *Work) WriteDisk(path string, plan *proto.Plan) error {
	pj, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	cw := cpio.NewDedupWriter(cpio.Newc.Writer(&buf))
	recs := append([]cpio.Record{cpio.StaticRecord(pj, cpio.Info{Name: "plan.json", Mode: cpio.S_IFREG | 0o644})}, w.recs...)
	if err := cpio.WriteRecordsAndDirs(cw, recs); err != nil {
		return fmt.Errorf("work archive: %w", err)
	}
	if err := cpio.WriteTrailer(cw); err != nil {
		return fmt.Errorf("work archive: %w", err)
	}
	if buf.Len()+proto.HeaderSize > DiskSize {
		return fmt.Errorf("work archive is %d bytes, more than the %d-byte work disk", buf.Len(), DiskSize)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(DiskSize); err != nil {
		return err
	}
	if _, err := f.WriteAt(proto.Header(int64(buf.Len())), 0); err != nil {
		return err
	}
	if _, err := f.WriteAt(buf.Bytes(), proto.HeaderSize); err != nil {
		return err
	}
	return f.Close()
}

// CreateDisk makes an empty sparse work disk.
func CreateDisk(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := f.Truncate(DiskSize); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
