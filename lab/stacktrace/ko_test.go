package stacktrace_test

// These tests build the lab's crashing test modules (lab/testdata/oops,
// warnon and kbleds) for every installed kernel and resolve real reports
// against the unstripped modules.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"debug/elf"

	"github.com/modlab/modlab/lab"
	"github.com/modlab/modlab/lab/stacktrace"
)

// testModule is one of the lab's crashing modules, with the source lines
// its reports must name.
type testModule struct {
	name   string
	fault  string // text on the line that faults or warns
	call   string // text on the line of the call that led there, if any
	inline string // the function the faulting line belongs to, when it is not the frame's
}

var testModules = []testModule{
	{name: "oops", fault: "*target = 1;"},
	{name: "warnon", fault: "WARN_ONCE("},
	{name: "kbleds", fault: "/* FAULT */", call: "/* CALL */", inline: "set_leds"},
}

// built is a test module built for one kernel.
type built struct {
	testModule
	kernel lab.Kernel
	ko     string // the unstripped module
	src    string // its source file
}

var (
	buildOnce sync.Once
	builds    []built
	buildErr  error
)

// buildAll builds the test modules for every installed kernel (in the
// lab's cache: a second run costs nothing).
func buildAll(t testing.TB) []built {
	t.Helper()
	ks, _ := lab.Kernels("/")
	if len(ks) == 0 {
		t.Skip("no kernel headers installed (run scripts/setup.sh)")
	}
	buildOnce.Do(func() {
		root, err := lab.FindSourceRoot(os.Getenv)
		if err != nil {
			buildErr = err
			return
		}
		cache := lab.DefaultCacheDir(os.Getenv)
		for _, k := range ks {
			for _, m := range testModules {
				dir := filepath.Join(root, "lab", "testdata", m.name)
				r, err := lab.Build(context.Background(), dir, k, cache, lab.BuildOptions{})
				if err != nil {
					buildErr = err
					return
				}
				builds = append(builds, built{m, k, r.Modules[0], filepath.Join(dir, m.name+".c")})
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builds
}

// lineOf returns the number of the first line of file that contains text.
func lineOf(t *testing.T, file, text string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, text) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q", file, text)
	return 0
}

// series is "6.1" or "6.12": the kernel series a captured report is from.
func series(k lab.Kernel) string {
	parts := strings.SplitN(k.Release, ".", 3)
	return parts[0] + "." + strings.TrimRight(parts[1], "-+")
}

// TestCapturedReports annotates reports captured from VM runs of these
// very modules (testdata/MODULE-SERIES.txt, verbatim from `modlab run
// lab/testdata/MODULE --format json`): the faulting statement, the
// WARN_ON, the call that led to the fault and the inlined helper must be
// named. A report's offsets fit the code of the release it was captured
// on; for other releases TestFaultingLines checks the same with offsets
// taken from the module itself.
func TestCapturedReports(t *testing.T) {
	for _, b := range buildAll(t) {
		t.Run(b.name+"/"+b.kernel.Release, func(t *testing.T) {
			fixture := filepath.Join("testdata", b.name+"-"+series(b.kernel)+".txt")
			raw, err := os.ReadFile(fixture)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(raw, []byte(" "+b.kernel.Release+" ")) {
				t.Skipf("%s was captured on another release than %s", fixture, b.kernel.Release)
			}
			splat := strings.TrimSuffix(string(raw), "\n")
			got := stacktrace.Annotate(splat, map[string]string{b.name: b.ko})
			file := filepath.Base(b.src)
			fault := fmt.Sprintf("%s:%d", file, lineOf(t, b.src, b.fault))
			for _, f := range stacktrace.Parse(splat) {
				if f.Kind == stacktrace.Fault {
					line := strings.Split(got, "\n")[f.Index]
					want := "(" + fault
					if b.inline != "" && f.Func != b.inline {
						want += fmt.Sprintf(" in %s, inlined at %s:%d)", b.inline, file, lineOf(t, b.src, b.call))
					} else {
						want += ")"
					}
					if !strings.HasSuffix(line, want) {
						t.Errorf("fault frame: got %q, want it to end with %q", line, want)
					}
				}
				if f.Kind == stacktrace.Return && !f.Unreliable {
					line := strings.Split(got, "\n")[f.Index]
					want := fmt.Sprintf("(%s:%d)", file, lineOf(t, b.src, b.call))
					if !strings.HasSuffix(line, want) {
						t.Errorf("caller frame: got %q, want it to end with %q", line, want)
					}
				}
			}
			if n := strings.Count(got, "\n"); n != strings.Count(splat, "\n") || !strings.Contains(got, "("+fault) {
				t.Errorf("annotated report:\n%s", got)
			}
		})
	}
}

// insn is one instruction of a module, as objdump sees it.
type insn struct {
	section string
	addr    uint64
	text    string
	file    string // the source line objdump -l gives it
	line    int
}

var (
	objdumpLabel = regexp.MustCompile(`^Disassembly of section (\S+):$`)
	objdumpLine  = regexp.MustCompile(`^(/\S*|\S+\.[ch]):(\d+)(?: \(discriminator \d+\))?$`)
	objdumpInsn  = regexp.MustCompile(`^\s+([0-9a-f]+):\t(.*)$`)
)

// disassemble lists the instructions of a module's executable sections
// with the source line binutils gives each.
func disassemble(t *testing.T, ko string) []insn {
	t.Helper()
	out, err := exec.Command("objdump", "-d", "-l", "--no-show-raw-insn", ko).Output()
	if err != nil {
		t.Skipf("objdump: %v", err)
	}
	var list []insn
	var sec, file string
	line := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if m := objdumpLabel.FindStringSubmatch(l); m != nil {
			sec, file, line = m[1], "", 0
		} else if m := objdumpLine.FindStringSubmatch(l); m != nil {
			file = m[1]
			line, _ = strconv.Atoi(m[2])
		} else if m := objdumpInsn.FindStringSubmatch(l); m != nil && sec != "" {
			a, _ := strconv.ParseUint(m[1], 16, 64)
			list = append(list, insn{sec, a, m[2], file, line})
		}
	}
	return list
}

// funcSym is a function symbol of a module.
type funcSym struct {
	name        string
	section     string
	value, size uint64
}

// functions lists a module's function symbols, named the way the
// kernel's reports name them (module_init's aliases and the padding
// before each function left out).
func functions(t *testing.T, ko string) []funcSym {
	t.Helper()
	f, err := elf.Open(ko)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	var out []funcSym
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || int(s.Section) >= len(f.Sections) ||
			s.Name == "init_module" || s.Name == "cleanup_module" || strings.HasPrefix(s.Name, "__pfx_") {
			continue
		}
		out = append(out, funcSym{s.Name, f.Sections[s.Section].Name, s.Value, s.Size})
	}
	return out
}

// in returns the function holding an instruction.
func in(fs []funcSym, i insn) (funcSym, bool) {
	for _, f := range fs {
		if f.section == i.section && f.value <= i.addr && i.addr < f.value+f.size {
			return f, true
		}
	}
	return funcSym{}, false
}

// TestFaultingLines writes, for every instruction of the faulting line
// of each test module as built for each installed kernel, the RIP line
// the kernel prints when that instruction faults (and, where the fault is
// reached through a call that was not inlined, the call-trace line of the
// return address), and checks that Annotate names the right lines.
func TestFaultingLines(t *testing.T) {
	for _, b := range buildAll(t) {
		t.Run(b.name+"/"+b.kernel.Release, func(t *testing.T) {
			insns := disassemble(t, b.ko)
			fs := functions(t, b.ko)
			mods := map[string]string{b.name: b.ko}
			file := filepath.Base(b.src)
			faultLine := lineOf(t, b.src, b.fault)
			faults := 0
			for _, i := range insns {
				if filepath.Base(i.file) != file || i.line != faultLine {
					continue
				}
				fn, ok := in(fs, i)
				if !ok {
					t.Fatalf("instruction %s+%#x is in no function", i.section, i.addr)
				}
				faults++
				rip := fmt.Sprintf("RIP: 0010:%s+%#x/%#x [%s]", fn.name, i.addr-fn.value, fn.size, b.name)
				want := fmt.Sprintf("%s (%s:%d", rip, file, faultLine)
				switch {
				case b.inline == "" || fn.name == b.inline:
					want += ")"
				case fn.name == b.name+"_init":
					want += fmt.Sprintf(" in %s, inlined at %s:%d)", b.inline, file, lineOf(t, b.src, b.call))
				default: // the helper inlined elsewhere too
					want += fmt.Sprintf(" in %s, inlined at %s:", b.inline, file)
				}
				if got := stacktrace.Annotate(rip, mods); !strings.HasPrefix(got, want) {
					t.Errorf("got  %s\nwant %s", got, want)
				}
			}
			if faults == 0 {
				t.Fatalf("objdump -l finds no instruction on %s:%d", file, faultLine)
			}
			if b.call == "" {
				return
			}
			// Return addresses: each call on the CALL line comes back to
			// the next instruction, which the report names; it must be
			// placed on the call's line.
			callLine := lineOf(t, b.src, b.call)
			calls := 0
			for n, i := range insns[:len(insns)-1] {
				if filepath.Base(i.file) != file || i.line != callLine || !strings.HasPrefix(i.text, "call") {
					continue
				}
				ret := insns[n+1]
				fn, ok := in(fs, i)
				if !ok || ret.section != i.section {
					continue
				}
				calls++
				trace := fmt.Sprintf(" %s+%#x/%#x [%s]", fn.name, ret.addr-fn.value, fn.size, b.name)
				want := fmt.Sprintf("%s (%s:%d)", trace, file, callLine)
				if got := stacktrace.Annotate(trace, mods); got != want {
					t.Errorf("got  %s\nwant %s", got, want)
				}
			}
			if calls == 0 && b.inline != "" {
				for _, f := range fs {
					if f.name == b.inline {
						t.Errorf("%s is not inlined, yet no call to it is on %s:%d", b.inline, file, callLine)
					}
				}
			}
		})
	}
}

// TestAgainstAddr2line compares every instruction of every function of
// the test modules with binutils' addr2line -i -f: the same line, the
// same chain of inlined calls.
func TestAgainstAddr2line(t *testing.T) {
	if _, err := exec.LookPath("addr2line"); err != nil {
		t.Skip("no addr2line")
	}
	for _, b := range buildAll(t) {
		t.Run(b.name+"/"+b.kernel.Release, func(t *testing.T) {
			mod, err := stacktrace.Open(b.ko)
			if err != nil {
				t.Fatal(err)
			}
			fs := functions(t, b.ko)
			bySection := map[string][]insn{}
			for _, i := range disassemble(t, b.ko) {
				if _, ok := in(fs, i); ok {
					bySection[i.section] = append(bySection[i.section], i)
				}
			}
			checked := 0
			for sec, list := range bySection {
				args := []string{"-a", "-i", "-f", "-j", sec, "-e", b.ko}
				for _, i := range list {
					args = append(args, fmt.Sprintf("%#x", i.addr))
				}
				out, err := exec.Command("addr2line", args...).Output()
				if err != nil {
					t.Fatalf("addr2line: %v", err)
				}
				want := parseAddr2line(string(out))
				for _, i := range list {
					fn, _ := in(fs, i)
					loc, inlined, err := mod.Lookup(fn.name, i.addr-fn.value, stacktrace.Fault)
					w := want[i.addr]
					if err != nil {
						if len(w) > 0 && w[0].Line > 0 {
							t.Errorf("%s+%#x: %v; addr2line says %v", fn.name, i.addr-fn.value, err, w)
						}
						continue
					}
					got := []stacktrace.Location{{Func: loc.Func, File: absolute(mod, loc.File), Line: loc.Line}}
					for n, l := range inlined {
						next := fn.name
						if n+1 < len(inlined) {
							next = inlined[n+1].Func
						}
						got = append(got, stacktrace.Location{Func: next, File: absolute(mod, l.File), Line: l.Line})
					}
					// addr2line names the outermost function as DWARF
					// does; the report's name for it is fn.name.
					if len(w) > 0 {
						w[len(w)-1].Func = fn.name
					}
					if fmt.Sprint(got) != fmt.Sprint(w) {
						t.Errorf("%s+%#x (%s+%#x): got %v, addr2line says %v", fn.name, i.addr-fn.value, sec, i.addr, got, w)
					}
					checked++
				}
			}
			if checked == 0 {
				t.Fatal("no instruction checked")
			}
			// A call's return address is reported in the call trace: it
			// must be placed on the call, which is often another line
			// than the instruction after it.
			moved := 0
			for _, list := range bySection {
				for n, i := range list[:len(list)-1] {
					ret := list[n+1]
					fn, _ := in(fs, i)
					if !strings.HasPrefix(i.text, "call") || ret.addr-fn.value > fn.size {
						continue
					}
					call, inCall, err1 := mod.Lookup(fn.name, i.addr-fn.value, stacktrace.Fault)
					back, inBack, err2 := mod.Lookup(fn.name, ret.addr-fn.value, stacktrace.Return)
					if err1 != nil || err2 != nil || call != back || fmt.Sprint(inCall) != fmt.Sprint(inBack) {
						t.Errorf("%s+%#x, returning from the call at %#x: got %v %v (%v), want %v %v (%v)",
							fn.name, ret.addr-fn.value, i.addr-fn.value, back, inBack, err2, call, inCall, err1)
					}
					if after, _, err := mod.Lookup(fn.name, ret.addr-fn.value, stacktrace.Fault); err == nil && after != call {
						moved++
					}
				}
			}
			t.Logf("%d instructions agree; %d return addresses are on another line than their call", checked, moved)
		})
	}
}

func absolute(m *stacktrace.Module, file string) string {
	if filepath.IsAbs(file) || m.SrcDir == "" {
		return file
	}
	return filepath.Join(m.SrcDir, file)
}

// parseAddr2line reads the output of addr2line -a -i -f: for each
// address, the chain of (function, file:line), innermost first.
func parseAddr2line(out string) map[uint64][]stacktrace.Location {
	res := map[uint64][]stacktrace.Location{}
	var cur uint64
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for n := 0; n < len(lines); n++ {
		l := lines[n]
		if strings.HasPrefix(l, "0x") {
			cur, _ = strconv.ParseUint(l[2:], 16, 64)
			continue
		}
		if n+1 >= len(lines) {
			break
		}
		pos := lines[n+1]
		n++
		pos, _, _ = strings.Cut(pos, " (discriminator")
		i := strings.LastIndexByte(pos, ':')
		line, err := strconv.Atoi(pos[i+1:])
		if i < 0 || err != nil || strings.HasPrefix(pos, "??") {
			res[cur] = append(res[cur], stacktrace.Location{Func: l})
			continue
		}
		res[cur] = append(res[cur], stacktrace.Location{Func: l, File: filepath.Clean(pos[:i]), Line: line})
	}
	return res
}

// BenchmarkAnnotate measures what the lab pays per report: reading the
// module's DWARF and resolving its frames.
func BenchmarkAnnotate(b *testing.B) {
	var kb built
	for _, m := range buildAll(b) {
		if m.name == "kbleds" {
			kb = m
		}
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "kbleds-"+series(kb.kernel)+".txt"))
	if err != nil {
		b.Fatal(err)
	}
	mods := map[string]string{"kbleds": kb.ko}
	for b.Loop() {
		stacktrace.Annotate(string(raw), mods)
	}
}
