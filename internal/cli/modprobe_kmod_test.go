package cli

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// kmodTool finds one of kmod's tools, or skips the test.
func kmodTool(t testing.TB, name string) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/" + name, "/sbin/" + name, "/usr/bin/" + name, "/bin/" + name} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Skipf("kmod's %s is not installed: nothing to compare with", name)
	return ""
}

// installedReleases lists the kernels under /lib/modules that depmod has
// indexed, or skips the test.
func installedReleases(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir("/lib/modules")
	if err != nil {
		t.Skipf("no /lib/modules on this machine: %v", err)
	}
	var rels []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join("/lib/modules", e.Name(), "modules.dep.bin")); err == nil {
			rels = append(rels, e.Name())
		}
	}
	if len(rels) == 0 {
		t.Skip("no kernel under /lib/modules has a modules.dep.bin")
	}
	return rels
}

// moduleNames lists every module name of a release: the modules in
// modules.dep and the builtin ones.
func moduleNames(t testing.TB, dir string) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, f := range []string{"modules.dep", "modules.builtin"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			p, _, _ := strings.Cut(sc.Text(), ":")
			if p == "" {
				continue
			}
			n := filepath.Base(p)
			n = n[:strings.Index(n+".ko", ".ko")]
			seen[n] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// runKmodParallel runs kmod's tool once per argument list, in parallel,
// and returns stdout and the exit code of each.
func runKmodParallel(t testing.TB, tool string, argss [][]string) (outs []string, codes []int) {
	t.Helper()
	outs = make([]string, len(argss))
	codes = make([]int, len(argss))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 2*runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				cmd := exec.Command(tool, argss[i]...)
				cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
				var out bytes.Buffer
				cmd.Stdout = &out
				err := cmd.Run()
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					codes[i] = ee.ExitCode()
				} else if err != nil {
					codes[i] = -1
				}
				outs[i] = out.String()
			}
		}()
	}
	for i := range argss {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return outs, codes
}

// runModlab runs one of our commands in-process.
func runModlab(run func(*Env, []string) error, args []string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code = report(env, "modprobe", run(env, args))
	return out.String(), errb.String(), code
}

// TestModprobeShowDependsMatchesKmod compares "modprobe -S REL -D NAME"
// with kmod's for every module name of every installed kernel, plus a few
// aliases and names that do not exist.
func TestModprobeShowDependsMatchesKmod(t *testing.T) {
	tool := kmodTool(t, "modprobe")
	for _, rel := range installedReleases(t) {
		t.Run(rel, func(t *testing.T) {
			names := moduleNames(t, filepath.Join("/lib/modules", rel))
			names = append(names, "fs-ext4", "crypto-md5", "crypto-sha256", "symbol:crc32c", "net-pf-10",
				"does-not-exist", "pci:v00008086d00001234sv*", "bad]name", "snd-pcsp", "cpuidle-haltpoll")
			var argss [][]string
			for _, n := range names {
				argss = append(argss, []string{"-S", rel, "-D", n})
			}
			want, codes := runKmodParallel(t, tool, argss)
			bad := 0
			for i, args := range argss {
				got, stderr, code := runModlab(runModprobe, args)
				if got != want[i] || code != codes[i] {
					bad++
					if bad <= 10 {
						t.Errorf("modprobe %s: exit %d, want %d\n--- got:\n%s--- want:\n%s--- stderr:\n%s",
							strings.Join(args, " "), code, codes[i], got, want[i], stderr)
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d names differ from kmod", bad, len(argss))
			} else {
				t.Logf("%d names: output identical to kmod's", len(argss))
			}
		})
	}
}

// TestModprobeShowExportsMatchesKmod compares --show-exports and
// --show-modversions with kmod's for the file system modules of every
// installed kernel (plain and compressed, with and without exports).
func TestModprobeShowExportsMatchesKmod(t *testing.T) {
	tool := kmodTool(t, "modprobe")
	var files []string
	for _, rel := range installedReleases(t) {
		m, _ := filepath.Glob(filepath.Join("/lib/modules", rel, "kernel/fs/*/*.ko*"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skip("no file system modules installed")
	}
	var argss [][]string
	for _, f := range files {
		argss = append(argss, []string{"--show-exports", f}, []string{"--show-modversions", f})
	}
	want, codes := runKmodParallel(t, tool, argss)
	for i, args := range argss {
		got, stderr, code := runModlab(runModprobe, args)
		if got != want[i] || code != codes[i] {
			t.Errorf("modprobe %s: exit %d, want %d\n--- got:\n%s--- want:\n%s--- stderr:\n%s", strings.Join(args, " "), code, codes[i], got, want[i], stderr)
		}
	}
}
