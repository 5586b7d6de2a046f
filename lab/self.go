package lab

import (
	"context"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// GuestTools are the names under which the guest image links the modlab
// binary into proto.ToolDir, ahead of busybox's applets on the PATH: the
// kmod-compatible commands and modlab itself.
var GuestTools = []string{"modlab", "modinfo", "lsmod", "insmod", "rmmod", "modprobe", "depmod", "dmesg", "kallsyms"}

// SelfBinary returns the modlab binary that goes into the guest image as its
// /init and its tools: the running executable when it is modlab (an
// installed copy needs nothing else), otherwise (a test binary, say) one
// built from modlab's source tree srcRoot into cacheDir.
func SelfBinary(ctx context.Context, srcRoot, cacheDir string) (string, error) {
	exe, err := os.Executable()
	if err == nil {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		if bi, err := buildinfo.ReadFile(exe); err == nil && bi.Path == ModulePath+"/cmd/modlab" {
			return exe, nil
		}
	}
	if srcRoot == "" {
		return "", errors.New("the running program is not the modlab binary, and modlab's source tree was not found to build one (set MODLAB_SRC)")
	}
	bin, err := GoBinary(ctx, srcRoot, "cmd/modlab", false, cacheDir)
	if err != nil {
		return "", fmt.Errorf("build modlab for the guest: %w", err)
	}
	return bin, nil
}

// libDirs are where a dynamically linked modlab's libraries are looked for,
// in the order the loader on Debian's amd64 searches them.
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// RuntimeFiles lists what a binary needs in the guest besides itself: for a
// static binary (the usual modlab build, CGO_ENABLED=0) nothing; for a
// dynamically linked one (`go install` with cgo) its ELF interpreter and
// every shared library it needs, transitively, as host paths.
func RuntimeFiles(bin string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	var visit func(path string, top bool) error
	visit = func(path string, top bool) error {
		f, err := elf.Open(path)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		defer f.Close()
		if top {
			for _, p := range f.Progs {
				if p.Type != elf.PT_INTERP {
					continue
				}
				b := make([]byte, p.Filesz)
				if _, err := p.ReadAt(b, 0); err != nil {
					return fmt.Errorf("%s: interpreter: %w", path, err)
				}
				interp := string(b[:len(b)-1]) // NUL-terminated
				if !seen[interp] {
					seen[interp] = true
					out = append(out, interp)
				}
			}
		}
		libs, err := f.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, lib := range libs {
			p, err := findLib(lib)
			if err != nil {
				return fmt.Errorf("%s needs %s: %w", path, lib, err)
			}
			if seen[p] {
				continue
			}
			seen[p] = true
			out = append(out, p)
			if err := visit(p, false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := visit(bin, true); err != nil {
		return nil, err
	}
	return out, nil
}

func findLib(name string) (string, error) {
	if filepath.IsAbs(name) {
		return name, nil
	}
	for _, d := range libDirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in %v", libDirs)
}
