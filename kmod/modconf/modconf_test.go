package modconf

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func parse(t *testing.T, text string) *Config {
	t.Helper()
	c := &Config{}
	if err := c.Parse("test.conf", strings.NewReader(text)); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseLines(t *testing.T) {
	t.Parallel()
	c := parse(t, `# comment
alias pci:v0000*d* snd-hda
alias  my-alias	foo-bar  extra words ignored
blacklist evil-mod
options snd-hda  index=0	model=auto
options x-y
install foo /sbin/modprobe --ignore-install foo $CMDLINE_OPTS && echo hi
remove foo /bin/true
softdep bar pre: a-b c post: d
softdep baz e pre: f
softdep line \
  pre: joined
options snd_[a-z]-x y=1
options a]b c=1
   # indented comment is a bad line in kmod
include other.conf
frobnicate x
`)
	wantAliases := []Alias{{"pci:v0000*d*", "snd_hda"}, {"my_alias", "foo_bar"}}
	if !reflect.DeepEqual(c.Aliases, wantAliases) {
		t.Errorf("aliases = %q", c.Aliases)
	}
	if !reflect.DeepEqual(c.Blacklist, []string{"evil_mod"}) {
		t.Errorf("blacklist = %q", c.Blacklist)
	}
	// The options keep what follows the single separator after the name
	// (kmod's strtok quirk), tabs turned into spaces; a bracket range
	// keeps its dash.
	wantOpts := []Options{{"snd_hda", " index=0 model=auto"}, {"snd_[a-z]_x", "y=1"}}
	if !reflect.DeepEqual(c.Options, wantOpts) {
		t.Errorf("options = %q", c.Options)
	}
	if len(c.Install) != 1 || c.Install[0].Command != "/sbin/modprobe --ignore-install foo $CMDLINE_OPTS && echo hi" {
		t.Errorf("install = %q", c.Install)
	}
	if len(c.Remove) != 1 || c.Remove[0] != (Command{"foo", "/bin/true"}) {
		t.Errorf("remove = %q", c.Remove)
	}
	wantSD := []Softdep{
		{Module: "bar", Pre: []string{"a-b", "c"}, Post: []string{"d"}},
		{Module: "baz", Pre: []string{"f"}},
		{Module: "line", Pre: []string{"joined"}},
	}
	if !reflect.DeepEqual(c.Softdeps, wantSD) {
		t.Errorf("softdeps = %+v", c.Softdeps)
	}
	var got []string
	for _, w := range c.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		"test.conf:6: ignoring bad line starting with 'options'",
		"test.conf:14: ignoring bad line starting with 'options'",
		"test.conf:15: ignoring bad line starting with '#'",
		"test.conf: command include is deprecated and not parsed anymore",
		"test.conf:17: ignoring bad line starting with 'frobnicate'",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSoftdepString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sd   Softdep
		want string
	}{
		{Softdep{Pre: []string{"a", "b"}, Post: []string{"c"}}, "pre: a bpost: c"},
		{Softdep{Post: []string{"c"}}, "post: c"},
		{Softdep{}, ""},
	} {
		if got := tc.sd.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.sd, got, tc.want)
		}
	}
}

func TestCmdline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in        string
		opts      []Options
		blacklist []string
	}{
		{"quiet root=/dev/sda1 snd-hda.index=1 x.y", []Options{{"snd_hda", "index=1"}, {"x", "y"}}, nil},
		{"modprobe.blacklist=a,b-c foo.bar=\"baz qux\"", []Options{{"foo", "bar=\"baz qux\""}}, []string{"a", "b-c"}},
		{"\"parport.dyndbg=file ieee1284_ops.c +mpf\" a.b=1", []Options{{"parport", "dyndbg=\"file ieee1284_ops.c +mpf\""}, {"a", "b=1"}}, nil},
		{"a.b.c=1 d=e.f g.h=1=2 .x=1 y.=2", []Options{{"g", "h=1=2"}, {"", "x=1"}, {"y", "=2"}}, nil},
		{"m.p=1\n", []Options{{"m", "p=1"}}, nil},
		{"", nil, nil},
	} {
		c := &Config{}
		c.ParseCmdline(tc.in)
		if !reflect.DeepEqual(c.Options, tc.opts) || !reflect.DeepEqual(c.Blacklist, tc.blacklist) {
			t.Errorf("ParseCmdline(%q): options %q blacklist %q; want %q %q", tc.in, c.Options, c.Blacklist, tc.opts, tc.blacklist)
		}
	}
}

// TestLoadOverride checks kmod's file precedence: all files in name order,
// a name in an earlier directory hiding the same name in later ones, the
// module directory's modules.softdep sorted among them.
func TestLoadOverride(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write := func(p, s string) {
		p = filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/modprobe.d/b.conf", "options m from=etc-b\n")
	write("lib/modprobe.d/b.conf", "options m from=lib-b\n")
	write("lib/modprobe.d/a.conf", "options m from=lib-a\n")
	write("run/modprobe.d/c.alias", "options m from=run-c\n")
	write("run/modprobe.d/d.txt", "options m from=ignored\n")
	write("run/modprobe.d/.hidden.conf", "options m from=hidden\n")
	write("usr/local/lib/modprobe.d/z.conf/x.conf", "options m from=dir\n")
	write("lib/modules/1/modules.softdep", "softdep m pre: n\n")
	write("proc/cmdline", "m.from=cmdline\n")
	c, err := Load(LoadOptions{Root: root, ModDir: filepath.Join(root, "lib/modules/1")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range c.Options {
		got = append(got, o.Options)
	}
	want := []string{"from=lib-a", "from=etc-b", "from=run-c", "from=cmdline"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("options in order %q, want %q", got, want)
	}
	if len(c.Softdeps) != 1 || c.Softdeps[0].Module != "m" {
		t.Errorf("softdeps = %+v", c.Softdeps)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].String(), "z.conf") {
		t.Errorf("warnings = %v, want one about the directory z.conf", c.Warnings)
	}
	// An explicit list replaces the default directories.
	c, err = Load(LoadOptions{Paths: []string{filepath.Join(root, "lib/modprobe.d/b.conf")}, NoCmdline: true})
	if err != nil || len(c.Options) != 1 || c.Options[0].Options != "from=lib-b" {
		t.Errorf("explicit file: %+v, %v", c, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"alias a b\noptions m x=1\n", "softdep m pre: a post: b\n", "install m /bin/true \\\n more\n",
		"blacklist [abc-]\n", "options m\tx=\"a b\"\n", "\\", "alias a]b c\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := &Config{}
		if err := c.Parse("fuzz.conf", strings.NewReader(s)); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.Warnings {
			if !strings.HasPrefix(w.String(), "fuzz.conf") {
				t.Errorf("warning without file name: %v", w)
			}
		}
	})
}

func FuzzCmdline(f *testing.F) {
	for _, s := range []string{"a.b=c", "\"a.b=c d\" e.f", "modprobe.blacklist=x,y", "\"\"\"", "a.\"b=c\"", ".=. ="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := &Config{}
		c.ParseCmdline(s)
	})
}
