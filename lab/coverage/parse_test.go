package coverage

import (
	"encoding/binary"
	"os"
	"strings"
	"testing"
)

func TestParseGcovJSON(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/prog.gcov.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// gcov-12 -b -c -j -t prog.gcno other.gcno, prog run once with two
	// arguments, other never: see testdata/prog.
	docs, err := parseGcovJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].DataFile != "prog.gcno" || docs[1].DataFile != "other.gcno" {
		t.Fatalf("got %d documents %+v, want prog.gcno and other.gcno", len(docs), docs)
	}
	var files []string
	for _, d := range docs {
		for _, f := range d.Files {
			files = append(files, f.File)
		}
	}
	if got, want := strings.Join(files, " "), "/src/prog.c /src/twice.h /src/other.c"; got != want {
		t.Errorf("files %q, want %q", got, want)
	}
	prog := docs[0].Files[0]
	lines := map[int]gcovLine{}
	for _, l := range prog.Lines {
		lines[l.LineNumber] = l
	}
	tests := []struct {
		line     int
		count    int64
		branches []int64
	}{
		{8, 6, []int64{3, 3}},  // if (x > 2)
		{15, 0, nil},           // puts("never")
		{22, 7, []int64{6, 1}}, // for (...)
		{24, 1, []int64{0, 1}}, // if (s == 12345)
		{25, 0, nil},           // never()
	}
	for _, tc := range tests {
		l, ok := lines[tc.line]
		if !ok {
			t.Errorf("line %d missing", tc.line)
			continue
		}
		var br []int64
		for _, b := range l.Branches {
			br = append(br, b.Count)
		}
		if l.Count != tc.count || !equal(br, tc.branches) {
			t.Errorf("line %d: count %d branches %v, want %d %v", tc.line, l.Count, br, tc.count, tc.branches)
		}
	}
	fn := map[string]int64{}
	for _, f := range prog.Functions {
		fn[f.Name] = f.ExecutionCount
	}
	if fn["classify"] != 6 || fn["never"] != 0 || fn["main"] != 1 || len(fn) != 3 {
		t.Errorf("functions %v, want classify 6, never 0, main 1", fn)
	}
}

func TestParseGcovJSONRejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"not JSON", "gcov: cannot open", "gcov's JSON"},
		{"not gcov's", `{"files": []}`, "no format_version"},
		{"negative count", `{"format_version":"1","files":[{"file":"a.c","lines":[{"line_number":3,"count":-1}]}]}`, "bad line 3"},
		{"line zero", `{"format_version":"1","files":[{"file":"a.c","lines":[{"line_number":0,"count":1}]}]}`, "bad line 0"},
		{"huge line", `{"format_version":"1","files":[{"file":"a.c","lines":[{"line_number":99999999999,"count":1}]}]}`, "bad line"},
		{"count too big", `{"format_version":"1","files":[{"file":"a.c","lines":[{"line_number":1,"count":1e30}]}]}`, "gcov's JSON"},
		{"nameless file", `{"format_version":"1","files":[{"lines":[]}]}`, "without a name"},
		{"nameless function", `{"format_version":"1","files":[{"file":"a.c","functions":[{"start_line":1,"end_line":2}]}]}`, "bad function"},
		{"negative branch", `{"format_version":"1","files":[{"file":"a.c","lines":[{"line_number":1,"count":1,"branches":[{"count":-2}]}]}]}`, "negative branch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseGcovJSON(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one that says %q", err, tc.want)
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	t.Parallel()
	le := func(magic, version, stamp uint32) []byte {
		return binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, magic), version), stamp)
	}
	be := func(magic, version, stamp uint32) []byte {
		return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, magic), version), stamp)
	}
	v := func(s string) uint32 { return binary.BigEndian.Uint32([]byte(s)) }
	tests := []struct {
		name  string
		in    []byte
		data  bool
		stamp uint32
		gcc   string // "" when the version is not GCC's
		err   string
	}{
		// The first 12 bytes of a .gcno that gcc-12 wrote on x86-64.
		{"gcc 12 notes", []byte("oncg*22B\x8f\xc4\xa2\x29"), false, 0x29a2c48f, "12.2", ""},
		{"gcc 12 data", []byte("adcg*22B\x8f\xc4\xa2\x29\xeb\x67"), true, 0x29a2c48f, "12.2", ""},
		{"big-endian data", be(magicData, v("B31*"), 7), true, 7, "13.1", ""},
		{"gcc 4.8", le(magicNotes, v("408*"), 1), false, 1, "4.8", ""},
		{"gcc 9.3", le(magicNotes, v("A93*"), 1), false, 1, "9.3", ""},
		{"odd version", le(magicNotes, v("zz!*"), 1), false, 1, "", ""},
		{"short", []byte("oncg*22"), false, 0, "", "too short"},
		{"not gcov", []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00"), false, 0, "", "not a gcov"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := parseHeader(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.data != tc.data || h.stamp != tc.stamp {
				t.Errorf("data %v stamp %x, want %v %x", h.data, h.stamp, tc.data, tc.stamp)
			}
			g, err := h.gcc()
			switch {
			case tc.gcc == "" && err == nil:
				t.Errorf("version %s, want an error", g)
			case tc.gcc != "" && (err != nil || g.String() != tc.gcc):
				t.Errorf("version %s (%v), want %s", g, err, tc.gcc)
			}
		})
	}
}

func TestParseGcovVersion(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"gcov (Debian 12.2.0-14+deb12u1) 12.2.0", "12.2"},
		{"gcov (GCC) 14.1.1 20240522", "14.1"}, // a date after the version
		{"gcov (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0", "11.4"},
		{"", ""},
	}
	for _, tc := range tests {
		v, err := parseGcovVersion(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q: version %s, want an error", tc.in, v)
			}
			continue
		}
		if err != nil || v.String() != tc.want {
			t.Errorf("%q: %s (%v), want %s", tc.in, v, err, tc.want)
		}
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzParseGcovJSON(f *testing.F) {
	b, err := os.ReadFile("testdata/prog.gcov.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"format_version":"1","files":[{"file":"a.c","lines":[{"line_number":1,"count":1,"branches":[{"count":0}]}],"functions":[{"name":"f","start_line":1,"end_line":1,"execution_count":1}]}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		docs, err := parseGcovJSON(strings.NewReader(string(in)))
		if err != nil {
			return
		}
		// Whatever passed the checks must merge and render without
		// trouble.
		m := newMerger()
		for _, d := range docs {
			for _, f := range d.Files {
				m.add("/src/"+f.File, f.File, f)
			}
		}
		for _, file := range m.result() {
			lc := file.LineCounts()
			if lc.Hit > lc.Found || lc.Found != len(file.Lines) {
				t.Fatalf("line counts %+v for %d lines", lc, len(file.Lines))
			}
			if err := WriteLCOV(discard{}, "fuzz", []*File{file}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte("adcg*22B\x8f\xc4\xa2\x29"))
	f.Add([]byte("gcno408*\x00\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := parseHeader(in)
		if err != nil {
			return
		}
		if v, err := h.gcc(); err == nil && (v.major < 0 || v.minor < 0 || v.major > 359) {
			t.Fatalf("version %v from %q", v, in)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
