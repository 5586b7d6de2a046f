package lab_test

// In-VM tests of --coverage. Coverage needs a kernel built with gcov, the
// lab's debug kernel ('modlab kernels build-debug'): without it they skip.

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modlab/modlab/internal/cli"
	"github.com/modlab/modlab/lab"
	"github.com/modlab/modlab/lab/coverage"
)

// gcovKernel returns the lab's debug kernel, or skips the test when it is
// not built.
func gcovKernel(t *testing.T, cache string) lab.Kernel {
	t.Helper()
	ks, err := lab.CachedKernels(cache)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if k.Origin == lab.OriginDebug {
			if err := coverage.KernelSupport(k.BuildDir); err != nil {
				t.Fatalf("the debug kernel %s has no gcov: %v", k.Release, err)
			}
			return k
		}
	}
	t.Skip("the debug kernel is not built ('modlab kernels build-debug'): coverage needs its gcov")
	return lab.Kernel{}
}

// funcSpan returns the lines of the C function whose definition has sig:
// from that line to the first closing brace at the start of a line.
func funcSpan(t *testing.T, file, sig string) (from, to int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		switch {
		case from == 0 && strings.Contains(l, sig):
			from = i + 1
		case from != 0 && l == "}":
			return from, i + 1
		}
	}
	t.Fatalf("%s has no function %s", file, sig)
	return 0, 0
}

// lcovRecord is one source file of an lcov tracefile: its lines' counts
// and its functions' calls.
type lcovRecord struct {
	lines map[int]int64
	funcs map[string]int64
	fig   map[string]string // LF, LH, FNF, FNH, BRF, BRH
}

func readLCOV(t *testing.T, path string) map[string]*lcovRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs := map[string]*lcovRecord{}
	var cur *lcovRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, _ := strings.Cut(sc.Text(), ":")
		switch key {
		case "SF":
			cur = &lcovRecord{lines: map[int]int64{}, funcs: map[string]int64{}, fig: map[string]string{}}
			recs[val] = cur
		case "DA":
			n, c, _ := strings.Cut(val, ",")
			line, _ := strconv.Atoi(n)
			cur.lines[line], _ = strconv.ParseInt(c, 10, 64)
		case "FNDA":
			c, name, _ := strings.Cut(val, ",")
			cur.funcs[name], _ = strconv.ParseInt(c, 10, 64)
		case "LF", "LH", "FNF", "FNH", "BRF", "BRH":
			cur.fig[key] = val
		}
	}
	return recs
}

// TestCoverageHello is `modlab test hello --coverage --kernel debug`:
// hello-5's init and exit functions ran (its tests load and unload it
// many times, and the kernel keeps an unloaded module's counts), and no
// line of hello-5.c outside them has code. The JSON report carries the
// figures; the lcov tracefile and the HTML pages are written.
func TestCoverageHello(t *testing.T) {
	t.Parallel() // each boots the debug kernel: the two overlap their builds and boots
	_, root, cache := labSetup(t)
	k := gcovKernel(t, cache)
	dir := filepath.Join(t.TempDir(), "cov")
	env, out, errb := cacheEnv(cache)
	code := cli.Main(env, []string{"modlab", "test", "hello", "--kernel", "debug", "--coverage",
		"--coverage-dir", dir, "--format", "json"})
	if code != 0 {
		t.Fatalf("modlab test exited %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	var doc struct {
		Results []struct {
			Kernel string `json:"kernel"`
			Units  []struct {
				Name     string            `json:"name"`
				Verdict  string            `json:"verdict"`
				Coverage *coverage.Summary `json:"coverage"`
			} `json:"units"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, out.String())
	}
	if len(doc.Results) != 1 || doc.Results[0].Kernel != k.Release || len(doc.Results[0].Units) != 1 {
		t.Fatalf("report is not one unit on %s:\n%s", k.Release, out.String())
	}
	c := doc.Results[0].Units[0].Coverage
	if c == nil || c.Error != "" {
		t.Fatalf("hello has no coverage (%+v):\n%s", c, errb.String())
	}
	src := filepath.Join(root, "examples", "hello")
	unitDir := filepath.Join(dir, k.Release, "hello")
	if c.LCOV != filepath.Join(unitDir, "lcov.info") || c.HTML != filepath.Join(unitDir, "index.html") {
		t.Errorf("coverage written to %s and %s, want them under %s", c.LCOV, c.HTML, unitDir)
	}
	// Every source file of the unit's modules, and nothing else.
	files := map[string]coverage.FileSummary{}
	for _, f := range c.Files {
		files[f.File] = f
		if f.Source != filepath.Join(src, f.File) {
			t.Errorf("%s: source %s, want the file in %s", f.File, f.Source, src)
		}
		if _, err := os.Stat(f.HTML); err != nil {
			t.Errorf("%s's page: %v", f.File, err)
		}
	}
	var names []string
	for _, f := range c.Files {
		names = append(names, f.File)
	}
	if got := strings.Join(names, " "); got != "hello-1.c hello-2.c hello-3.c hello-4.c hello-5.c start.c stop.c" {
		t.Errorf("files %q, want hello-1.c to hello-5.c, start.c and stop.c", got)
	}
	// hello-5.c: its two functions and every line of them ran.
	h5 := files["hello-5.c"]
	if want := (coverage.Counts{Found: 2, Hit: 2}); h5.Functions != want {
		t.Errorf("hello-5.c functions %v, want %v", h5.Functions, want)
	}
	if want := (coverage.Counts{Found: hello5Lines, Hit: hello5Lines}); h5.Lines != want {
		t.Errorf("hello-5.c lines %v, want %v", h5.Lines, want)
	}
	if want := (coverage.Counts{Found: 2, Hit: 2}); h5.Branches != want {
		t.Errorf("hello-5.c branches %v, want %v (the loop's)", h5.Branches, want)
	}

	// The tracefile says where: the lines with code are those of the two
	// functions, and they all ran.
	recs := readLCOV(t, c.LCOV)
	rec := recs[filepath.Join(src, "hello-5.c")]
	if rec == nil {
		t.Fatalf("%s has no record of hello-5.c", c.LCOV)
	}
	h5c := filepath.Join(src, "hello-5.c")
	initFrom, initTo := funcSpan(t, h5c, "hello_5_init(void)")
	exitFrom, exitTo := funcSpan(t, h5c, "hello_5_exit(void)")
	for line, count := range rec.lines {
		if !(initFrom <= line && line <= initTo) && !(exitFrom <= line && line <= exitTo) {
			t.Errorf("hello-5.c:%d has code (count %d) outside hello_5_init (%d-%d) and hello_5_exit (%d-%d)",
				line, count, initFrom, initTo, exitFrom, exitTo)
		}
		if count == 0 {
			t.Errorf("hello-5.c:%d never ran", line)
		}
	}
	// Each load ran init once and each unload exit once; the loop in init
	// ran twice per load.
	loads, unloads := rec.funcs["hello_5_init"], rec.funcs["hello_5_exit"]
	if loads == 0 || loads != unloads || len(rec.funcs) != 2 {
		t.Errorf("hello-5.c calls %v: want init and exit called as often, and nothing else", rec.funcs)
	}
	loopBody, _ := strconv.Atoi(lineOf(t, h5c, `pr_info("myintarray[%zu]`))
	if got := rec.lines[loopBody]; got != 2*loads {
		t.Errorf("hello-5.c:%d (the loop's body) ran %d times, want 2 per load (%d loads)", loopBody, got, loads)
	}
	if rec.fig["LF"] != strconv.Itoa(hello5Lines) || rec.fig["LH"] != strconv.Itoa(hello5Lines) || rec.fig["FNF"] != "2" || rec.fig["FNH"] != "2" {
		t.Errorf("hello-5.c's figures in the tracefile: %v", rec.fig)
	}

	// The page shows each line with its count.
	page, err := os.ReadFile(h5.HTML)
	if err != nil {
		t.Fatal(err)
	}
	hello := lineOf(t, h5c, `pr_info("Hello, world 5\n");`)
	row := `<tr id="L` + hello + `" class="hit"><td class="n"><a href="#L` + hello + `">` + hello + `</a></td><td class="c">` +
		strconv.FormatInt(loads, 10) + `</td><td class="b"></td><td class="s">	pr_info(&#34;Hello, world 5\n&#34;);</td></tr>`
	if !strings.Contains(string(page), row) {
		t.Errorf("hello-5.c's page lacks\n%s", row)
	}
	index, err := os.ReadFile(c.HTML)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(index), `<a href="files/hello-5.c.html">hello-5.c</a>`) {
		t.Errorf("index page does not link hello-5.c's page")
	}
}

// hello5Lines is how many lines of hello-5.c have code in the debug
// kernel's build (GCC 12): in hello_5_init, its opening line, the
// declaration of i (the kernel zeroes locals: INIT_STACK_ALL_ZERO), the
// seven pr_info calls (the two-line one counts once), the loop and the
// return; in hello_5_exit, its opening line, the declaration of last, the
// lock, the read, the unlock, the pr_info and the closing brace.
const hello5Lines = 18

// covModule has a branch that is never taken and a function that is never
// called.
const covModule = `
static int calls = 3;
module_param(calls, int, 0444);
MODULE_PARM_DESC(calls, "how many times to loop");

static noinline void covmod_never(void)
{
	pr_info("covmod: never\n");
}

static int __init covmod_init(void)
{
	int i, odd = 0;

	for (i = 0; i < calls; i++)
		if (i & 1)
			odd++;
	if (calls > 100)
		covmod_never();
	pr_info("covmod: %d odd\n", odd);
	return 0;
}

static void __exit covmod_exit(void)
{
	pr_info("covmod: bye\n");
}

module_init(covmod_init);
module_exit(covmod_exit);`

// TestCoverageRun is `modlab run DIR --coverage --kernel debug` on a folder
// of the user's: the table shows the file's figures, with the function
// never called and the branch never taken, and where the pages are.
func TestCoverageRun(t *testing.T) {
	t.Parallel()
	_, _, cache := labSetup(t)
	k := gcovKernel(t, cache)
	mod := writeModule(t, "covmod", covModule)
	dir := filepath.Join(t.TempDir(), "cov")
	env, out, errb := cacheEnv(cache)
	code := cli.Main(env, []string{"modlab", "run", mod, "--kernel", "debug", "--coverage-dir", dir, "--param", "calls=4"})
	if code != 0 {
		t.Fatalf("modlab run exited %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	got := out.String()
	unitDir := filepath.Join(dir, k.Release, "covmod")
	for _, want := range []string{
		"coverage of covmod on " + k.Release + ":\n",
		"  lcov: " + filepath.Join(unitDir, "lcov.info") + "\n",
		"  html: " + filepath.Join(unitDir, "index.html") + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	rec := readLCOV(t, filepath.Join(unitDir, "lcov.info"))[filepath.Join(mod, "covmod.c")]
	if rec == nil {
		t.Fatalf("no record of covmod.c:\n%s", got)
	}
	if rec.funcs["covmod_init"] != 1 || rec.funcs["covmod_exit"] != 1 || rec.funcs["covmod_never"] != 0 {
		t.Errorf("calls %v, want init and exit once, never not at all", rec.funcs)
	}
	never, _ := strconv.Atoi(lineOf(t, filepath.Join(mod, "covmod.c"), `pr_info("covmod: never\n");`))
	odd, _ := strconv.Atoi(lineOf(t, filepath.Join(mod, "covmod.c"), "odd++;"))
	if c, ok := rec.lines[never]; !ok || c != 0 {
		t.Errorf("covmod.c:%d (in covmod_never) count %d (found %v), want 0", never, c, ok)
	}
	if c := rec.lines[odd]; c != 2 {
		t.Errorf("covmod.c:%d (odd++ for i = 1, 3) count %d, want 2", odd, c)
	}
	if rec.fig["FNF"] != "3" || rec.fig["FNH"] != "2" {
		t.Errorf("function figures %v, want 3 found, 2 hit", rec.fig)
	}
	row := "  covmod.c  "
	if !strings.Contains(got, row) {
		t.Errorf("the table has no row for covmod.c:\n%s", got)
	}
}
