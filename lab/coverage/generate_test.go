package coverage

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildProg compiles testdata/prog the way kbuild compiles a unit: the
// sources copied into a build directory, objects with --coverage and
// -ffile-prefix-map from the build directory to the user's folder, plus
// glue.c, a file made by the build (like kbuild's .mod.c). It runs the
// program once with two arguments and returns the job with the data files
// of prog.o and glue.o (other.o's is not sent: its code "was never
// loaded"), taken out of the build directory as the guest would send them.
func buildProg(t *testing.T) Job {
	t.Helper()
	for _, tool := range []string{"gcc", "gcov"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	tmp := t.TempDir()
	src, build := filepath.Join(tmp, "src"), filepath.Join(tmp, "build")
	for _, d := range []string{src, build} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"prog.c", "twice.h", "other.c"} {
			b, err := os.ReadFile(filepath.Join("testdata/prog", f))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(d, f), b, 0o644)
		}
	}
	os.WriteFile(filepath.Join(build, "glue.c"), []byte("int glue(void) { return 1; }\n"), 0o644)
	objs := []string{"prog", "other", "glue"}
	var objPaths []string
	for _, o := range objs {
		obj := filepath.Join(build, o+".o")
		run(t, tmp, "gcc", "--coverage", "-O0", "-ffile-prefix-map="+build+"="+src, "-c", "-o", obj, filepath.Join(build, o+".c"))
		objPaths = append(objPaths, obj)
	}
	bin := filepath.Join(build, "prog")
	run(t, tmp, "gcc", append([]string{"--coverage", "-o", bin}, objPaths...)...)
	run(t, tmp, bin, "a", "b")
	j := Job{Name: "prog", Kernel: "6.12-test", Src: src, BuildDir: build,
		Modules: []string{filepath.Join(build, "prog.ko")}, OutDir: filepath.Join(tmp, "out", "prog")}
	os.WriteFile(filepath.Join(build, "prog.mod"), []byte(strings.Join(objPaths, "\n")+"\n"), 0o644)
	for _, o := range objs {
		p := filepath.Join(build, o+".gcda")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(p)
		if o != "other" {
			j.Data = append(j.Data, DataFile{Path: p, Data: b})
		}
	}
	return j
}

func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	j := buildProg(t)
	s, err := Generate(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	// The user's files only: not glue.c (the build made it), not the
	// system's headers.
	var got []string
	for _, f := range s.Files {
		got = append(got, strings.TrimPrefix(f.Source, j.Src+"/"))
	}
	if strings.Join(got, " ") != "other.c prog.c twice.h" {
		t.Fatalf("files %v, want other.c prog.c twice.h", got)
	}
	byName := map[string]FileSummary{}
	for _, f := range s.Files {
		byName[filepath.Base(f.Source)] = f
	}
	// GCC 12 at -O0: prog.c has 15 lines with code, of which never()'s
	// three and the call of never() did not run; other.o never ran.
	tests := []struct {
		file                       string
		lines, functions, branches Counts
	}{
		{"prog.c", Counts{15, 11}, Counts{3, 2}, Counts{6, 5}},
		{"twice.h", Counts{2, 2}, Counts{1, 1}, Counts{0, 0}},
		{"other.c", Counts{2, 0}, Counts{1, 0}, Counts{0, 0}},
	}
	for _, tc := range tests {
		f := byName[tc.file]
		if f.Lines != tc.lines || f.Functions != tc.functions || f.Branches != tc.branches {
			t.Errorf("%s: lines %v functions %v branches %v, want %v %v %v", tc.file,
				f.Lines, f.Functions, f.Branches, tc.lines, tc.functions, tc.branches)
		}
		if _, err := os.Stat(f.HTML); err != nil {
			t.Errorf("%s's page: %v", tc.file, err)
		}
	}
	if want := (Counts{19, 13}); s.Total.Lines != want {
		t.Errorf("total lines %v, want %v", s.Total.Lines, want)
	}
	lcov, err := os.ReadFile(s.LCOV)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SF:" + filepath.Join(j.Src, "prog.c") + "\n", "FNDA:6,classify\n", "FNDA:0,never\n",
		"DA:15,0\n", "DA:22,7\n", "BRDA:24,0,0,0\n", "SF:" + filepath.Join(j.Src, "other.c") + "\nFN:3,other\nFNDA:0,other\n"} {
		if !strings.Contains(string(lcov), want) {
			t.Errorf("lcov tracefile lacks %q:\n%s", want, lcov)
		}
	}
	if strings.Contains(string(lcov), "glue") {
		t.Errorf("lcov tracefile names the build's own file:\n%s", lcov)
	}
	if s.HTML != filepath.Join(j.OutDir, "index.html") {
		t.Errorf("index %q", s.HTML)
	}

	// A second run replaces the first one's output.
	stale := filepath.Join(j.OutDir, "files", "stale.c.html")
	os.WriteFile(stale, nil, 0o644)
	if _, err := Generate(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("the second run left the first one's pages")
	}
}

func TestGenerateRefuses(t *testing.T) {
	t.Parallel()
	j := buildProg(t)
	tests := []struct {
		name string
		edit func(j *Job)
		want string
	}{
		{"data of another build", func(j *Job) {
			d := append([]byte(nil), j.Data[0].Data...)
			binary.LittleEndian.PutUint32(d[8:], binary.LittleEndian.Uint32(d[8:])+1)
			j.Data = []DataFile{{j.Data[0].Path, d}}
		}, "was the folder rebuilt"},
		{"not gcov data", func(j *Job) {
			j.Data = []DataFile{{j.Data[0].Path, []byte("garbage from the guest")}}
		}, "not gcov data"},
		{"someone else's folder", func(j *Job) {
			j.OutDir = t.TempDir()
			os.WriteFile(filepath.Join(j.OutDir, "notes.txt"), nil, 0o644)
		}, "not replacing it"},
		{"no notes", func(j *Job) { j.BuildDir, j.Modules = t.TempDir(), nil }, "no gcov notes"},
		{"gcov of another version", func(j *Job) {
			fake := filepath.Join(t.TempDir(), "gcov")
			os.WriteFile(fake, []byte("#!/bin/sh\necho 'gcov (GCC) 99.1.0'\n"), 0o755)
			j.Gcov = fake
		}, "no gcov of that version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jj := j
			jj.OutDir = filepath.Join(t.TempDir(), "out")
			tc.edit(&jj)
			_, err := Generate(context.Background(), jj)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one that says %q", err, tc.want)
			}
		})
	}
	// Data that is not the unit's is left out, not an error.
	jj := j
	jj.OutDir = filepath.Join(t.TempDir(), "out")
	jj.Data = append([]DataFile{{"/elsewhere/x.gcda", []byte("x")}, {filepath.Join(j.BuildDir, "prog.gcno"), []byte("y")}}, j.Data...)
	if _, err := Generate(context.Background(), jj); err != nil {
		t.Errorf("foreign data files: %v", err)
	}
}

func TestKernelSupport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config string // "" : no .config
		ok           bool
	}{
		{"gcov kernel", "CONFIG_KASAN=y\nCONFIG_GCOV_KERNEL=y\n# CONFIG_GCOV_PROFILE_ALL is not set\n", true},
		{"debian kernel", "# GCOV-based kernel profiling\n# CONFIG_GCOV_KERNEL is not set\nCONFIG_ARCH_HAS_GCOV_PROFILE_ALL=y\n", false},
		{"no config", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.config != "" {
				os.WriteFile(filepath.Join(dir, ".config"), []byte(tc.config), 0o644)
			}
			err := KernelSupport(dir)
			if (err == nil) != tc.ok {
				t.Errorf("KernelSupport = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
