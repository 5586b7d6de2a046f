package coverage

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// sample is prog.c's coverage (testdata/prog) as gcov-12 counts it: main
// ran once with two arguments, classify six times, never not at all.
func sample(dir string) []*File {
	return []*File{
		{
			Source: filepath.Join(dir, "prog.c"), Rel: "prog.c",
			Lines: []Line{
				{6, 6, nil}, {8, 6, []int64{3, 3}}, {9, 3, nil}, {10, 3, nil},
				{13, 0, nil}, {15, 0, nil}, {16, 0, nil},
				{18, 1, nil}, {20, 1, nil}, {22, 7, []int64{6, 1}}, {23, 6, nil},
				{24, 1, []int64{0, 1}}, {25, 0, []int64{0, 0}}, {26, 1, nil}, {27, 1, nil},
			},
			Functions: []Function{{"classify", 6, 11, 6}, {"never", 13, 16, 0}, {"main", 18, 28, 1}},
		},
		{
			Source: filepath.Join(dir, "twice.h"), Rel: "twice.h",
			Lines:     []Line{{2, 3, nil}, {4, 3, nil}},
			Functions: []Function{{"twice", 2, 5, 3}},
		},
	}
}

func TestWriteLCOVGolden(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteLCOV(&b, "hello on 6.12", sample("/src/prog")); err != nil {
		t.Fatal(err)
	}
	golden := "testdata/prog.info"
	if *update {
		os.WriteFile(golden, b.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("lcov tracefile differs from %s:\n%s", golden, b.String())
	}
}

// TestLCOVRecords checks the tracefile's figures against the records it
// holds, the way lcov --summary counts them.
func TestLCOVRecords(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteLCOV(&b, "t", sample("/src/prog")); err != nil {
		t.Fatal(err)
	}
	recs := strings.Split(strings.TrimSuffix(b.String(), "end_of_record\n"), "end_of_record\n")
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	for _, rec := range recs {
		n := map[string]int{}
		hit := map[string]int{}
		fig := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(rec), "\n") {
			key, val, _ := strings.Cut(l, ":")
			n[key]++
			fig[key] = val
			f := strings.Split(val, ",")
			switch key {
			case "DA", "FNDA":
				c := f[1]
				if key == "FNDA" {
					c = f[0]
				}
				if c != "0" {
					hit[key]++
				}
			case "BRDA":
				if f[3] != "0" && f[3] != "-" {
					hit[key]++
				}
			}
		}
		for _, c := range []struct{ found, hit, rec string }{{"LF", "LH", "DA"}, {"FNF", "FNH", "FNDA"}, {"BRF", "BRH", "BRDA"}} {
			if fig[c.found] != strconv.Itoa(n[c.rec]) || fig[c.hit] != strconv.Itoa(hit[c.rec]) {
				t.Errorf("%s: %s:%s %s:%s, but %d %s records of which %d hit", fig["SF"], c.found, fig[c.found], c.hit, fig[c.hit], n[c.rec], c.rec, hit[c.rec])
			}
		}
	}
	// A line that never ran has its branches as "-".
	if !strings.Contains(b.String(), "BRDA:25,0,0,-\nBRDA:25,0,1,-\n") {
		t.Errorf("branches of line 25 (never ran) should be -:\n%s", b.String())
	}
}

func TestWriteHTML(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, err := filepath.Abs("testdata/prog")
	if err != nil {
		t.Fatal(err)
	}
	pages, err := WriteHTML(dir, "Coverage of prog on 6.12", "lcov.info", sample(src))
	if err != nil {
		t.Fatal(err)
	}
	index, err := os.ReadFile(pages.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<title>Coverage of prog on 6.12</title>`,
		`<a href="files/prog.c.html">prog.c</a>`,
		`<a href="files/twice.h.html">twice.h</a>`,
		`<td class="num">11/15</td>`, // prog.c's lines
		`<td class="num">2/3</td>`,   // its functions
		`<td class="num">5/8</td>`,   // its branches
		`<td class="num">13/17</td>`, // the total's lines
		`<a href="lcov.info">`,
	} {
		if !strings.Contains(string(index), want) {
			t.Errorf("index lacks %q:\n%s", want, index)
		}
	}
	page := pages.Files[filepath.Join(src, "prog.c")]
	if page != filepath.Join(dir, "files", "prog.c.html") {
		t.Fatalf("prog.c's page is %q", page)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	// Every line of the source is there, with its count when it has code.
	for _, want := range []string{
		`<tr id="L8" class="hit"><td class="n"><a href="#L8">8</a></td><td class="c">6</td><td class="b" title="branches taken: 3, 3">2/2</td><td class="s">	if (x &gt; 2)</td></tr>`,
		`<tr id="L15" class="miss"><td class="n"><a href="#L15">15</a></td><td class="c">0</td><td class="b"></td><td class="s">	puts(&#34;never&#34;);</td></tr>`,
		`<tr id="L24" class="part"><td class="n"><a href="#L24">24</a></td><td class="c">1</td><td class="b" title="branches taken: 0, 1">1/2</td><td class="s">	if (s == 12345)</td></tr>`,
		`<tr id="L21"><td class="n"><a href="#L21">21</a></td><td class="c"></td><td class="b"></td><td class="s"></td></tr>`,
		`<tr id="L28"><td class="n"><a href="#L28">28</a></td><td class="c"></td><td class="b"></td><td class="s">}</td></tr>`,
		`<td>never</td><td class="num"><a href="#L13">13</a></td><td class="num">0</td>`,
		`<a href="../index.html">Coverage of prog on 6.12</a>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("prog.c's page lacks\n%s", want)
		}
	}
	if rows := regexp.MustCompile(`<tr id="L\d+"`).FindAllString(html, -1); len(rows) != 28 {
		t.Errorf("prog.c's page has %d source rows, want its 28 lines", len(rows))
	}
}

// TestWriteHTMLSourceGone: a page still shows the counts when the source
// cannot be read, and says why.
func TestWriteHTMLSourceGone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pages, err := WriteHTML(dir, "t", "", sample(filepath.Join(dir, "gone"))[1:])
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pages.Files[filepath.Join(dir, "gone", "twice.h")])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"The source could not be read", `<tr id="L4" class="hit"><td class="n"><a href="#L4">4</a></td><td class="c">3</td>`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("page lacks %q:\n%s", want, b)
		}
	}
}

// TestLCOVReadByLcov has lcov itself read the tracefile (when lcov is
// installed) and checks that it counts what we count.
func TestLCOVReadByLcov(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("lcov"); err != nil {
		t.Skip("lcov is not installed")
	}
	info := filepath.Join(t.TempDir(), "prog.info")
	var b bytes.Buffer
	if err := WriteLCOV(&b, "prog", sample("/src/prog")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(info, b.Bytes(), 0o644)
	out, err := exec.Command("lcov", "--rc", "lcov_branch_coverage=1", "--summary", info).CombinedOutput()
	if err != nil {
		t.Fatalf("lcov --summary: %v\n%s", err, out)
	}
	for _, want := range []string{"(13 of 17 lines)", "(3 of 4 functions)", "(5 of 8 branches)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("lcov --summary lacks %q:\n%s", want, out)
		}
	}
}
