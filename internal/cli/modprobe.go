package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/kmod/loader"
	"github.com/modlab/modlab/kmod/modconf"
	"github.com/modlab/modlab/kmod/moddir"
	"github.com/modlab/modlab/kmod/modfile"
	"github.com/modlab/modlab/kmod/modprobe"
)

const modprobeHelp = `Usage:
	modprobe [options] [-i] [-b] modulename
	modprobe [options] -a [-i] [-b] modulename [modulename...]
	modprobe [options] -r [-i] modulename
	modprobe [options] -r -a [-i] modulename [modulename...]
	modprobe [options] -c
	modprobe [options] --dump-modversions filename
Management Options:
	-a, --all                   Consider every non-argument to
	                            be a module name to be inserted
	                            or removed (-r)
	-r, --remove                Remove modules instead of inserting
	    --remove-dependencies   Deprecated: use --remove-holders
	    --remove-holders        Also remove module holders (use together with -r)
	-w, --wait <MSEC>           When removing a module, wait up to MSEC for
	                            module's refcount to become 0 so it can be
	                            removed (use together with -r)
	    --first-time            Fail if module already inserted or removed
	-i, --ignore-install        Ignore install commands
	-i, --ignore-remove         Ignore remove commands
	-b, --use-blacklist         Apply blacklist to resolved alias.
	-f, --force                 Force module insertion or removal.
	                            implies --force-modversions and
	                            --force-vermagic
	    --force-modversion      Ignore module's version
	    --force-vermagic        Ignore module's version magic

Query Options:
	-R, --resolve-alias         Only lookup and print alias and exit
	-D, --show-depends          Only print module dependencies and exit
	-c, --showconfig            Print out known configuration and exit
	-c, --show-config           Same as --showconfig
	    --show-modversions      Dump module symbol version and exit
	    --dump-modversions      Same as --show-modversions
	    --show-exports          Only print module exported symbol versions and exit

General Options:
	-n, --dry-run               Do not execute operations, just print out
	-n, --show                  Same as --dry-run
	-C, --config=FILE           Use FILE instead of default search paths
	-d, --dirname=DIR           Use DIR as filesystem root for /lib/modules
	-S, --set-version=VERSION   Use VERSION instead of ` + "`uname -r`" + `
	-s, --syslog                print to syslog, not stderr
	-q, --quiet                 disable messages
	-v, --verbose               enables more messages
	-V, --version               show version
	-h, --help                  show this help
`

// modprobeRun is one modprobe invocation's state: what kmod keeps in the
// globals of tools/modprobe.c.
type modprobeRun struct {
	env *Env
	log *logger
	r   *modprobe.Resolver
	dir *moddir.Dir
	ld  loader.Loader

	logPrio    level // of "not found" messages: FATAL, or WARNING with -a
	show       bool
	dryRun     bool
	ignoreLoad bool
	lookupOnly bool
	firstTime  bool
	ignoreCmds bool
	blacklist  bool
	holders    bool
	waitMsec   uint64
	out        *bufio.Writer
}

// runModprobe is kmod 30's modprobe: it loads or removes modules with their
// dependencies, or only shows what it would do (-D, -n), resolving names
// through the module directory and the modprobe.d configuration.
func runModprobe(env *Env, args []string) error {
	if env.Getenv != nil {
		if o := env.Getenv("MODPROBE_OPTIONS"); o != "" {
			args = append(splitModprobeOptions(o), args...)
		}
	}
	t := newTool(env, toolSpec{name: "modprobe", help: modprobeHelp, version: kmodVersion})
	fl := t.flags
	var (
		all, remove, removeHolders, resolve, firstTime, ignoreCmds, useBlacklist bool
		force, forceModversion, forceVermagic, showDepends, showConfig           bool
		showModversions, showExports, dryRun, useSyslog, quiet                   bool
		verbose                                                                  int
		wait, dirname, release                                                   string
		configs                                                                  []string
	)
	fl.BoolVarP(&all, "all", "a", false, "")
	fl.BoolVarP(&remove, "remove", "r", false, "")
	fl.BoolVar(&removeHolders, "remove-dependencies", false, "")
	fl.BoolVar(&removeHolders, "remove-holders", false, "")
	fl.StringVarP(&wait, "wait", "w", "", "")
	fl.BoolVarP(&resolve, "resolve-alias", "R", false, "")
	fl.BoolVar(&firstTime, "first-time", false, "")
	fl.BoolVarP(&ignoreCmds, "ignore-install", "i", false, "")
	fl.BoolVar(&ignoreCmds, "ignore-remove", false, "")
	fl.BoolVarP(&useBlacklist, "use-blacklist", "b", false, "")
	fl.BoolVarP(&force, "force", "f", false, "")
	fl.BoolVar(&forceModversion, "force-modversion", false, "")
	fl.BoolVar(&forceVermagic, "force-vermagic", false, "")
	fl.BoolVarP(&showDepends, "show-depends", "D", false, "")
	fl.BoolVarP(&showConfig, "showconfig", "c", false, "")
	fl.BoolVar(&showConfig, "show-config", false, "")
	fl.BoolVar(&showModversions, "show-modversions", false, "")
	fl.BoolVar(&showModversions, "dump-modversions", false, "")
	fl.BoolVar(&showExports, "show-exports", false, "")
	fl.BoolVarP(&dryRun, "dry-run", "n", false, "")
	fl.BoolVar(&dryRun, "show", false, "")
	fl.StringArrayVarP(&configs, "config", "C", nil, "")
	fl.StringVarP(&dirname, "dirname", "d", "", "")
	fl.StringVarP(&release, "set-version", "S", "", "")
	fl.BoolVarP(&useSyslog, "syslog", "s", false, "")
	fl.BoolVarP(&quiet, "quiet", "q", false, "")
	fl.CountVarP(&verbose, "verbose", "v", "")
	if done, err := t.parse(args); done {
		return err
	}
	m := &modprobeRun{env: env, log: t.log, logPrio: levelFatal, out: bufio.NewWriter(env.Stdout)}
	defer m.out.Flush()
	if all {
		m.logPrio = levelWarning
	}
	// Mistakes in the options are told on stderr whatever -q and -s say,
	// as kmod tells them before it sets its log up.
	if wait != "" {
		v, err := strconv.ParseUint(wait, 0, 64)
		if err != nil {
			t.log.errorf("unexpected wait value '%s'.", wait)
			return &ExitError{Code: 1}
		}
		m.waitMsec = v
	}
	m.show, m.dryRun, m.ignoreLoad = showDepends, dryRun || showDepends, showDepends
	m.lookupOnly, m.firstTime, m.ignoreCmds, m.blacklist, m.holders = resolve, firstTime, ignoreCmds, useBlacklist, removeHolders
	if (force || forceModversion || forceVermagic) && !m.dryRun {
		// kmod strips __versions/vermagic or passes MODULE_INIT_IGNORE_*;
		// kmod/loader loads modules as they are.
		t.log.warnf("--force, --force-modversion and --force-vermagic are not supported: loading modules unchanged")
	}
	rest := fl.Args()
	if !showConfig && len(rest) == 0 {
		t.log.errorf("missing parameters. See -h.")
		return &ExitError{Code: 1}
	}
	if quiet {
		t.log.verbosity = levelEmerg
	}
	t.log.verbosity += level(verbose)
	if useSyslog {
		defer t.log.useSyslog()()
	}
	t.log.flush = func() { m.out.Flush() }

	// The module directory, built as kmod builds it.
	root := env.Root
	if root == "/" {
		root = ""
	}
	dirSet := fl.Changed("dirname")
	if dirSet {
		root = dirname
	}
	if release == "" {
		release = runningRelease(env)
	}
	dir, err := moddir.OpenPath(root + "/lib/modules/" + release)
	if err != nil {
		return err
	}
	m.dir = dir
	lo := modconf.LoadOptions{Root: env.Root, ModDir: dir.Path(), CmdlinePath: env.Path("/proc/cmdline")}
	if len(configs) > 0 {
		lo.Paths = configs
	}
	cfg, err := modconf.Load(lo)
	if err != nil {
		return err
	}
	libkmod := newLogger("libkmod", env.Stderr)
	for _, w := range cfg.Warnings {
		// libkmod logs these at ERR while the context is being created,
		// with its own default logger.
		libkmod.errorf("%s", w)
	}
	m.r = modprobe.New(dir, cfg)
	m.r.SysModule = env.Path("/sys/module")
	m.r.Warn = func(s string) { m.log.errorf("%s", s) }
	m.ld = loader.Loader{SysDir: env.Path("/sys")}

	var rerr error
	switch {
	case showConfig:
		rerr = m.showConfig(cfg)
	case showModversions || showExports:
		rerr = m.showSymbols(rest[0], showExports)
	case remove:
		for _, a := range rest {
			if err := m.removeAlias(a); err != nil {
				if err == errFatal {
					return err
				}
				rerr = err
			}
		}
	case all:
		for _, a := range rest {
			if err := m.insertAlias(a, ""); err != nil {
				if err == errFatal {
					return err
				}
				rerr = err
			}
		}
	default:
		rerr = m.insertAlias(rest[0], optionsFromArgs(rest[1:]))
	}
	if rerr != nil {
		if ee := (*ExitError)(nil); errors.As(rerr, &ee) {
			return rerr
		}
		return &ExitError{Code: 1}
	}
	return nil
}

// optionsFromArgs joins "param=value" arguments, quoting values with spaces
// the way kmod does.
func optionsFromArgs(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		k, v, ok := strings.Cut(a, "=")
		if ok && !strings.HasPrefix(v, `"`) && !strings.HasPrefix(v, "'") && strings.Contains(v, " ") {
			fmt.Fprintf(&b, "%s=\"%s\"", k, v)
			continue
		}
		b.WriteString(a)
	}
	return b.String()
}

// splitModprobeOptions splits $MODPROBE_OPTIONS on spaces; a word fully in
// quotes loses them.
func splitModprobeOptions(s string) []string {
	var out []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
		case c == ' ':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// insertAlias is kmod's insmod(): look the name up and probe every module
// it stands for.
func (m *modprobeRun) insertAlias(alias, extra string) error {
	mods, err := m.r.Lookup(alias)
	if err != nil && !errors.Is(err, modprobe.ErrInvalidName) {
		// A damaged index: say which file, then carry on as kmod does.
		m.log.errorf("%v", err)
	}
	if err != nil || len(mods) == 0 {
		if err := m.log.logf(m.logPrio, "Module %s not found in directory %s", alias, m.dir.Path()); err != nil {
			return err
		}
		return unix.ENOENT
	}
	var last error
	for _, mod := range mods {
		if m.lookupOnly {
			fmt.Fprintf(m.out, "%s\n", mod.Name)
			last = nil
			continue
		}
		err := m.probe(mod, extra)
		last = nil
		if err != nil {
			var errno unix.Errno
			switch {
			case errors.As(err, &errno) && errno == unix.EEXIST:
				m.log.errorf("could not insert '%s': Module already in kernel", mod.Name)
			case errors.As(err, &errno) && errno == unix.ENOENT:
				m.log.errorf("could not insert '%s': Unknown symbol in module, or unknown parameter (see dmesg)", mod.Name)
			default:
				m.log.errorf("could not insert '%s': %s", mod.Name, errText(err))
			}
			last = err
		}
	}
	return last
}

// probe is kmod_module_probe_insert_module with modprobe's flags.
func (m *modprobeRun) probe(mod *modprobe.Module, extra string) error {
	res, err := m.r.Probe(mod, modprobe.Flags{
		IgnoreCommands: m.ignoreCmds,
		IgnoreLoaded:   m.ignoreLoad,
		UseBlacklist:   m.blacklist,
		FailOnLoaded:   m.firstTime,
		ExtraOptions:   extra,
	})
	if err != nil {
		return err
	}
	if res.AlreadyLoaded {
		return unix.EEXIST
	}
	show := m.show || m.log.enabled(levelNotice)
	for _, a := range res.Actions {
		var err error
		switch {
		case a.Loaded:
			err = unix.EEXIST
		case a.Kind == modprobe.Install:
			if show {
				fmt.Fprintf(m.out, "install %s %s\n", a.Command, a.Options)
			}
			if !m.dryRun {
				err = m.runInstall(a)
			}
		default:
			if show {
				switch a.Kind {
				case modprobe.Insmod:
					fmt.Fprintf(m.out, "insmod %s %s\n", a.Path, a.Options)
				case modprobe.Builtin:
					fmt.Fprintf(m.out, "builtin %s\n", a.Name)
				}
			}
			if !m.dryRun {
				if a.Path == "" {
					m.log.errorf("could not find module by name='%s'", a.Name)
					err = unix.ENOENT
				} else {
					m.out.Flush()
					err = m.ld.LoadFile(a.Path, a.Options)
					var le *loader.Error
					if errors.As(err, &le) && le.Err == nil {
						err = le.Errno
					}
				}
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, unix.EEXIST) && a.Target && m.firstTime {
			return err
		}
		if errors.Is(err, unix.EEXIST) || !a.Required {
			continue
		}
		return err
	}
	return nil
}

// runInstall runs an install command through the shell with $CMDLINE_OPTS
// replaced and MODPROBE_MODULE set, as libkmod does.
func (m *modprobeRun) runInstall(a modprobe.Action) error {
	return m.runCommand("install", a.Name, strings.ReplaceAll(a.Command, "$CMDLINE_OPTS", a.Options))
}

func (m *modprobeRun) runCommand(kind, name, cmdline string) error {
	m.out.Flush()
	cmd := exec.Command("/bin/sh", "-c", cmdline)
	cmd.Env = append(os.Environ(), "MODPROBE_MODULE="+name)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = m.env.Stdin, m.env.Stdout, m.env.Stderr
	err := cmd.Run()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		m.log.errorf("Error running %s command '%s' for module %s: retcode %d", kind, cmdline, name, ee.ExitCode())
	} else {
		m.log.errorf("Could not run %s command '%s' for module %s: %v", kind, cmdline, name, err)
	}
	return unix.EINVAL
}

// removeAlias is kmod's rmmod(): look the name up and remove each module.
func (m *modprobeRun) removeAlias(alias string) error {
	mods, err := m.r.Lookup(alias)
	if err != nil || len(mods) == 0 {
		if err := m.log.logf(m.logPrio, "Module %s not found.", alias); err != nil {
			return err
		}
		return unix.ENOENT
	}
	for _, mod := range mods {
		if err := m.removeModule(mod, m.holders, false); err != nil {
			return err
		}
	}
	return nil
}

func (m *modprobeRun) sysModule(name, file string) (string, error) {
	b, err := os.ReadFile(m.env.Path("/sys/module/" + name + "/" + file))
	return strings.TrimSpace(string(b)), err
}

func (m *modprobeRun) refcnt(name string) int {
	s, err := m.sysModule(name, "refcnt")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(s)
	return n
}

// removeModule is rmmod_do_module of kmod's modprobe.
func (m *modprobeRun) removeModule(mod *modprobe.Module, removeHolders, ignoreBuiltin bool) error {
	var pre, post []*modprobe.Module
	var cmd string
	if !m.ignoreCmds {
		pre, post = mod.Softdeps()
		cmd = mod.RemoveCommand()
	}
	if cmd == "" && !m.ignoreLoad {
		st, err := mod.State()
		if err != nil {
			return err
		}
		switch st {
		case modprobe.StateNone:
			if m.firstTime {
				if err := m.log.fatalf("Module %s is not in kernel.", mod.Name); err != nil {
					return err
				}
				return unix.ENOENT
			}
			return nil
		case modprobe.StateBuiltin:
			if ignoreBuiltin {
				return nil
			}
			if err := m.log.fatalf("Module %s is builtin.", mod.Name); err != nil {
				return err
			}
			return unix.ENOENT
		}
	}
	for i := len(post) - 1; i >= 0; i-- {
		if err := m.removeModule(post[i], false, true); err == errFatal {
			return err
		}
	}
	if removeHolders {
		ents, _ := os.ReadDir(m.env.Path("/sys/module/" + mod.Name + "/holders"))
		for i := len(ents) - 1; i >= 0; i-- {
			hs, err := m.r.Lookup(ents[i].Name())
			if err != nil || len(hs) == 0 {
				continue
			}
			if err := m.removeModule(hs[0], false, true); err != nil {
				return err
			}
		}
	}
	if cmd == "" && !m.ignoreLoad && m.waitMsec == 0 {
		if m.refcnt(mod.Name) > 0 {
			if err := m.log.fatalf("Module %s is in use.", mod.Name); err != nil {
				return err
			}
			return unix.EBUSY
		}
	}
	var err error
	if cmd == "" {
		err = m.rmmod(mod.Name)
	} else {
		if m.show || m.log.enabled(levelNotice) {
			fmt.Fprintf(m.out, "remove %s\n", cmd)
		}
		if !m.dryRun {
			err = m.runCommand("remove", mod.Name, cmd)
		}
	}
	if err != nil {
		return err
	}
	if cmd == "" {
		deps, _ := mod.Dependencies()
		for _, d := range deps {
			if m.refcnt(d.Name) == 0 {
				m.rmmod(d.Name)
			}
		}
	}
	for i := len(pre) - 1; i >= 0; i-- {
		if err := m.removeModule(pre[i], false, true); err == errFatal {
			return err
		}
	}
	return nil
}

func (m *modprobeRun) rmmod(name string) error {
	if m.show || m.log.enabled(levelNotice) {
		fmt.Fprintf(m.out, "rmmod %s\n", name)
	}
	if m.dryRun {
		return nil
	}
	var flags loader.UnloadFlags
	if m.waitMsec > 0 {
		flags |= loader.Wait
	}
	err := m.ld.Unload(name, flags)
	if err == nil {
		return nil
	}
	var le *loader.Error
	if errors.As(err, &le) && le.Err == nil {
		if le.Errno == unix.ENOENT && !m.firstTime {
			return nil
		}
		m.log.errorf("could not remove '%s': %s", name, loader.Strerror(le.Errno))
		return le.Errno
	}
	m.log.errorf("could not remove '%s': %v", name, err)
	return err
}

// showConfig prints the configuration and the alias indexes (modprobe -c).
func (m *modprobeRun) showConfig(cfg *modconf.Config) error {
	w := m.out
	for _, b := range cfg.Blacklist {
		fmt.Fprintf(w, "blacklist %s\n", b)
	}
	for _, c := range cfg.Install {
		fmt.Fprintf(w, "install %s %s\n", c.Module, c.Command)
	}
	for _, c := range cfg.Remove {
		fmt.Fprintf(w, "remove %s %s\n", c.Module, c.Command)
	}
	for _, a := range cfg.Aliases {
		fmt.Fprintf(w, "alias %s %s\n", a.Pattern, a.Module)
	}
	for _, o := range cfg.Options {
		fmt.Fprintf(w, "options %s %s\n", o.Module, o.Options)
	}
	for _, s := range cfg.Softdeps {
		fmt.Fprintf(w, "softdep %s %s\n", s.Module, s)
	}
	io.WriteString(w, "\n# End of configuration files. Dumping indexes now:\n\n")
	for _, f := range []string{moddir.AliasFile, moddir.SymbolsFile} {
		r, err := m.dir.Index(f)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				m.log.errorf("%v", err)
			}
			continue
		}
		if err := r.Dump(w, "alias "); err != nil {
			m.log.errorf("%v", err)
		}
	}
	return nil
}

// showSymbols prints a module file's exports (--show-exports) or its
// modversions (--show-modversions) as "0x%08x\tname".
func (m *modprobeRun) showSymbols(path string, exports bool) error {
	if _, err := os.Stat(path); err != nil {
		return m.log.fatalf("Module %s not found.", path)
	}
	f, err := modfile.Open(path)
	if err != nil {
		return m.log.fatalf("Module %s not found.", path)
	}
	defer f.Close()
	var syms []modfile.Symbol
	what := "modversions"
	if exports {
		what = "symbols"
		syms, err = f.Exports()
	} else {
		syms, err = f.Versions()
	}
	if err != nil {
		return m.log.fatalf("could not get %s of %s: %v", what, path, err)
	}
	if len(syms) == 0 {
		// libkmod fails with ENOENT when the section is missing.
		return m.log.fatalf("could not get %s of %s: No such file or directory", what, path)
	}
	for _, s := range syms {
		fmt.Fprintf(m.out, "0x%08x\t%s\n", s.CRC, s.Name)
	}
	return nil
}
