package lab

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/modlab/modlab/kmod/compression"
	"github.com/modlab/modlab/kmod/modconf"
	"github.com/modlab/modlab/kmod/moddir"
	"github.com/modlab/modlab/kmod/modprobe"
	"github.com/modlab/modlab/lab/proto"
)

// initramfsVersion changes when the image's layout changes, so cached
// images of the old layout are not reused.
const initramfsVersion = "2"

// BootModules are the drivers the guest needs for its work disk. Where a
// kernel has them built in (modules.builtin) nothing is loaded.
var BootModules = []string{"virtio_pci", "virtio_blk"}

// ImageSpec is what goes into a guest image for one kernel.
type ImageSpec struct {
	Kernel  Kernel
	Init    string // the modlab binary: /init, and the tools in proto.ToolDir
	Busybox string // a static busybox; its applets get links
}

// Initramfs writes (or finds in cacheDir) the guest image for spec: a newc
// cpio archive, uncompressed (unpacking is faster than decompressing under
// TCG), holding /init, busybox and its applet links, and the kernel's own
// modules for the work disk, decompressed.
func Initramfs(spec ImageSpec, cacheDir string) (string, error) {
	key, err := imageKey(spec)
	if err != nil {
		return "", err
	}
	out := filepath.Join(cacheDir, "initramfs", spec.Kernel.Release+"-"+key+".cpio")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	recs, err := imageRecords(spec)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	w := cpio.NewDedupWriter(cpio.Newc.Writer(&buf))
	if err := cpio.WriteRecordsAndDirs(w, recs); err != nil {
		return "", fmt.Errorf("write initramfs: %w", err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return "", fmt.Errorf("write initramfs: %w", err)
	}
	if err := writeAtomic(out, buf.Bytes()); err != nil {
		return "", err
	}
	removeStale(filepath.Join(cacheDir, "initramfs", spec.Kernel.Release+"-*.cpio"), out)
	return out, nil
}

// imageKey names an image by what goes into it without reading it all: the
// init binary's path (which carries the digest of its sources), and the
// size and modification time of busybox and of the kernel's modules.dep
// and modules.builtin (a reinstalled kernel changes them).
func imageKey(spec ImageSpec) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "v%s\x00%s\x00%s\x00", initramfsVersion, spec.Kernel.Release, strings.Join(BootModules, ","))
	fmt.Fprintf(h, "%s\x00", strings.Join(GuestTools, ","))
	for _, p := range []string{spec.Init, spec.Busybox,
		filepath.Join(spec.Kernel.ModDir, "modules.dep"),
		filepath.Join(spec.Kernel.ModDir, "modules.builtin")} {
		st, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("guest image: %w", err)
		}
		abs, _ := filepath.Abs(p)
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00", abs, st.Size(), st.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// staleAge is how old a superseded cache file must be before it is removed:
// a run that started just before may still be using it.
const staleAge = time.Hour

// removeStale removes the files matching pattern, except keep, that were
// last written more than staleAge ago.
func removeStale(pattern, keep string) {
	old, _ := filepath.Glob(pattern)
	for _, o := range old {
		if o == keep || strings.Contains(o, ".tmp-") {
			continue
		}
		if st, err := os.Stat(o); err == nil && time.Since(st.ModTime()) > staleAge {
			os.Remove(o)
		}
	}
}

// writeAtomic writes data to path through a temporary file of its own, so
// that concurrent writers and readers never see half a file.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func imageRecords(spec ImageSpec) ([]cpio.Record, error) {
	initBin, err := os.ReadFile(spec.Init)
	if err != nil {
		return nil, fmt.Errorf("guest init: %w", err)
	}
	bb, err := os.ReadFile(spec.Busybox)
	if err != nil {
		return nil, fmt.Errorf("busybox (install busybox-static): %w", err)
	}
	recs := []cpio.Record{
		cpio.Directory("dev", 0o755),
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.Directory("root", 0o700),
		cpio.Directory("etc", 0o755),
		cpio.StaticRecord(initBin, cpio.Info{Name: "init", Mode: cpio.S_IFREG | 0o755}),
		cpio.StaticRecord(bb, cpio.Info{Name: "bin/busybox", Mode: cpio.S_IFREG | 0o755}),
		cpio.StaticFile("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644),
		cpio.StaticFile("etc/group", "root:x:0:\n", 0o644),
	}
	// modlab's tools answer by their names, before busybox's on the PATH
	// and, through shell functions, before busybox sh's own applets.
	funcs := "# modlab's tools before busybox's applets of the same names.\n"
	for _, t := range GuestTools {
		link := proto.ToolDir + "/" + t
		recs = append(recs, cpio.Symlink(strings.TrimPrefix(link, "/"), "/init"))
		funcs += fmt.Sprintf("%s() { %s \"$@\"; }\n", t, link)
	}
	recs = append(recs,
		cpio.StaticFile(strings.TrimPrefix(proto.ToolFunctions, "/"), funcs, 0o644),
		cpio.StaticFile("etc/profile", ". "+proto.ToolFunctions+"\n", 0o644))
	// A dynamically linked modlab brings its loader and libraries.
	rt, err := RuntimeFiles(spec.Init)
	if err != nil {
		return nil, fmt.Errorf("guest init: %w", err)
	}
	for _, p := range rt {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("guest init needs %s: %w", p, err)
		}
		recs = append(recs, cpio.StaticRecord(data, cpio.Info{Name: strings.TrimPrefix(p, "/"), Mode: cpio.S_IFREG | 0o755}))
	}
	applets, err := busyboxApplets(spec.Busybox)
	if err != nil {
		return nil, err
	}
	for _, a := range applets {
		if a == "bin/busybox" {
			continue
		}
		target, _ := filepath.Rel(filepath.Dir(a), "bin/busybox")
		recs = append(recs, cpio.Symlink(a, target))
	}
	mods, err := bootModuleFiles(spec.Kernel)
	if err != nil {
		return nil, err
	}
	var list []string
	for _, m := range mods {
		data, err := readModule(m.path)
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(m.guestPath, "/")
		recs = append(recs, cpio.StaticRecord(data, cpio.Info{Name: name, Mode: cpio.S_IFREG | 0o644}))
		list = append(list, m.guestPath)
	}
	recs = append(recs, cpio.StaticFile("etc/modlab/boot-modules", strings.Join(list, "\n")+"\n", 0o644))
	return recs, nil
}

func busyboxApplets(bb string) ([]string, error) {
	out, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", bb, err)
	}
	var as []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if a := strings.TrimSpace(sc.Text()); a != "" && !strings.Contains(a, "..") {
			as = append(as, a)
		}
	}
	sort.Strings(as)
	return as, nil
}

// readModule reads a module file, decompressing it so the guest can hand it
// to finit_module whatever the kernel's own decompression support.
func readModule(path string) ([]byte, error) {
	data, _, err := compression.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

type bootModule struct {
	path      string // on the host
	guestPath string // in the image, decompressed
}

// bootModuleFiles resolves BootModules with their dependencies, in load
// order, the way `modprobe --show-depends` does (kmod/modprobe on the
// kernel's own module directory, no host configuration); built-in ones are
// left out.
func bootModuleFiles(k Kernel) ([]bootModule, error) {
	dir, err := moddir.OpenPath(k.ModDir)
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", k.Release, err)
	}
	defer dir.Close()
	cfg, err := modconf.Load(modconf.LoadOptions{Paths: []string{}, NoCmdline: true})
	if err != nil {
		return nil, err
	}
	r := modprobe.New(dir, cfg)
	var out []bootModule
	seen := map[string]bool{}
	for _, name := range BootModules {
		mods, err := r.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %s: %w", k.Release, name, err)
		}
		if len(mods) == 0 {
			return nil, fmt.Errorf("kernel %s has no module %s and does not have it built in", k.Release, name)
		}
		res, err := r.Probe(mods[0], modprobe.Flags{IgnoreLoaded: true, IgnoreCommands: true})
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %s: %w", k.Release, name, err)
		}
		for _, a := range res.Actions {
			if a.Kind != modprobe.Insmod || seen[a.Path] {
				continue
			}
			seen[a.Path] = true
			rel, err := filepath.Rel(k.ModDir, a.Path)
			if err != nil || strings.HasPrefix(rel, "..") {
				rel = filepath.Join("extra", filepath.Base(a.Path))
			}
			out = append(out, bootModule{path: a.Path, guestPath: "/lib/modules/" + k.Release + "/" + compression.PlainName(rel)})
		}
	}
	return out, nil
}
