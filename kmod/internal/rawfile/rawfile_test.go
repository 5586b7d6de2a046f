package rawfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestReadMapDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789"), 10000)
	for name, data := range map[string][]byte{"empty": nil, "small": []byte("hi\n"), "big": big} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("ReadFile(%s) = %d bytes, %v", name, len(got), err)
		}
		m, mapped, err := Map(p)
		if err != nil || !bytes.Equal(m, data) {
			t.Errorf("Map(%s) = %d bytes, %v", name, len(m), err)
		}
		if mapped {
			Unmap(m)
		}
	}
	// /proc files report size 0 but have content.
	if data, err := ReadFile("/proc/self/status"); err == nil && len(data) == 0 {
		t.Error("ReadFile(/proc/self/status) read nothing")
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ReadFile(dir); err == nil {
		t.Error("ReadFile of a directory succeeded")
	}
	ents, notDir, err := ReadDir(dir)
	if err != nil || notDir || len(ents) != 3 {
		t.Errorf("ReadDir = %d entries, %v, %v", len(ents), notDir, err)
	}
	if _, notDir, _ := ReadDir(filepath.Join(dir, "small")); !notDir {
		t.Error("ReadDir of a file: notDir not set")
	}
}
