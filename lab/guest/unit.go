package guest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modlab/modlab/kmod/kmsg"
	"github.com/modlab/modlab/kmod/loader"
	"github.com/modlab/modlab/kmod/modname"
	"github.com/modlab/modlab/lab/kcheck"
	"github.com/modlab/modlab/lab/modtext"
	"github.com/modlab/modlab/lab/proto"
)

const defaultTimeout = 120 * time.Second

// runUnit runs one unit and reports its steps and its verdict. The unit's
// loads, command or test and unloads run in one child process (see
// unitMain): an oops in a module kills the task that called into it, and
// that must not be PID 1. Around it, /init watches the kernel log and the
// taint flags.
func (g *guest) runUnit(u proto.Unit) {
	g.send(proto.Event{Ev: proto.EvUnit, Unit: u.Name})
	if u.Coverage != "" {
		resetCoverage() // sendCoverage reports a kernel without gcov
	}
	dir := filepath.Join(workRoot, u.Dir)
	leaks := g.watchLeaks(u.Name, dir) // nil without kmemleak
	ok := true
	fail := func(name string, err error) {
		ok = false
		e := proto.Event{Ev: proto.EvStep, Unit: u.Name, Name: name, Status: proto.Fail, Msg: err.Error()}
		var ce *childError
		if errors.As(err, &ce) {
			e.Errno = ce.Errno
		}
		g.send(e)
	}

	taint0 := readTaint()
	klog, err := kmsg.Open("/dev/kmsg", false)
	if err == nil {
		klog.SeekEnd()
		defer klog.Close()
	}

	var msgs []string
	var logLines []proto.LogLine
	readLog := func() (died bool) {
		if klog == nil {
			return false
		}
		for {
			r, err := klog.Next()
			if err != nil {
				return died
			}
			logLines = append(logLines, proto.LogLine{Level: r.Level, Time: r.Time.Seconds(), Msg: r.Message})
			msgs = append(msgs, r.Message)
			if kcheck.IsTaskDeath(r.Message) {
				died = true
			}
		}
	}
	switch err := g.unitChild(u, readLog); {
	case err == errUnitFailed:
		ok = false // the child reported the failed steps
	case err != nil:
		// A child killed half-way may have left half an event line.
		g.ctl.Write([]byte("\n"))
		fail("unit", err)
	}
	// Modules the unit left behind are unloaded too, and count as a
	// failure: the next unit must start from a clean kernel.
	for _, name := range leftovers(dir) {
		err := inChild("--modlab-rmmod", name)
		if err == nil {
			err = errors.New("the unit left it loaded")
		}
		fail("rmmod "+name, err)
	}
	if u.Coverage != "" {
		g.sendCoverage(u) // the modules are unloaded: their counts are final
	}

	g.finishLeaks(leaks) // the modules are unloaded; kmemleak has its say after the last unit

	end := proto.Event{Ev: proto.EvUnitEnd, Unit: u.Name}
	readLog()
	end.Log = logLines
	for _, s := range kcheck.FindSplats(msgs) {
		end.Splats = append(end.Splats, s.Text())
		ok = false
	}
	taint1 := readTaint()
	end.Taint = taint1.Letters()
	if bad := kcheck.NewBad(taint0, taint1); bad != "" {
		end.BadTaint = bad
		ok = false
	}
	end.Status = proto.Pass
	if !ok {
		end.Status = proto.Fail
	}
	g.send(end)
}

// errUnitFailed is a unit whose child reported its failed steps itself.
var errUnitFailed = errors.New("unit failed")

// unitSpecEnv carries the unit's JSON to the child.
const unitSpecEnv = "MODLAB_UNIT_SPEC"

// oopsGrace is how long a unit may go on after the kernel killed a task.
const oopsGrace = 2 * time.Second

// unitChild runs the unit in "/init --modlab-unit", which reports its own
// steps on the control port (passed as fd 3). While it runs, readLog
// follows the kernel log. An oops kills only the thread that hit it; in a
// Go process the other threads live on and wait for it forever. So when
// the log shows a task death, the unit's whole process group is killed
// after a short grace.
func (g *guest) unitChild(u proto.Unit, readLog func() bool) error {
	spec, _ := json.Marshal(u)
	cmd := exec.Command("/proc/self/exe", "--modlab-unit")
	cmd.Env = append(os.Environ(), unitSpecEnv+"="+string(spec))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.ExtraFiles = []*os.File{g.ctl}
	// The shell needs the console's foreground process group; other units
	// get a group of their own so that they can be stopped as one.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: !u.Shell}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var diedAt time.Time
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-tick.C:
			if readLog() && diedAt.IsZero() {
				diedAt = time.Now()
			}
			if !diedAt.IsZero() && time.Since(diedAt) > oopsGrace {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				cmd.Process.Kill()
				<-done
				return errors.New("the kernel killed a task of the unit (oops: see the log); the unit's processes were stopped")
			}
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Errorf("the unit's process was killed by %v (a kernel oops kills the task that hit it: see the log)", ws.Signal())
		}
		if ee.ExitCode() == 1 {
			return errUnitFailed
		}
	}
	return err
}

// unitMain is the child's side: load, run, unload. It exits 1 if a step
// failed (each failure already reported).
func unitMain() int {
	var u proto.Unit
	if err := json.Unmarshal([]byte(os.Getenv(unitSpecEnv)), &u); err != nil {
		fmt.Fprintf(os.Stderr, "modlab-init: unit spec: %v\n", err)
		return 2
	}
	g := &guest{ctl: os.NewFile(3, "ctl")}
	var un unix.Utsname
	unix.Uname(&un)
	g.kernel = unix.ByteSliceToString(un.Release[:])
	if g.unitBody(u) {
		return 0
	}
	return 1
}

// unitBody loads the unit's modules, runs its command, shell or test, and
// unloads the modules in reverse order.
func (g *guest) unitBody(u proto.Unit) bool {
	dir := filepath.Join(workRoot, u.Dir)
	ok := true
	fail := func(name string, err error) {
		ok = false
		e := proto.Event{Ev: proto.EvStep, Unit: u.Name, Name: name, Status: proto.Fail, Msg: err.Error()}
		var le *loader.Error
		if errors.As(err, &le) {
			e.Errno = int(le.Errno)
		}
		g.send(e)
	}
	pass := func(name string) {
		g.send(proto.Event{Ev: proto.EvStep, Unit: u.Name, Name: name, Status: proto.Pass})
	}
	for _, c := range u.Copies {
		if err := copyFile(filepath.Join(dir, c.From), c.To); err != nil {
			fail("copy "+c.To, err)
			return false
		}
	}
	var loaded []string
	for _, m := range u.Load {
		name := "insmod " + m.File
		if m.Params != "" {
			name += " " + m.Params
		}
		if err := g.loadFile(filepath.Join(dir, m.File), m.Params); err != nil {
			fail(name, err)
			break
		}
		modtext.Record(moduleName(m.File), filepath.Join(dir, m.File)) // for the leak check
		pass(name)
		loaded = append(loaded, moduleName(m.File))
	}
	if ok || len(u.Load) == 0 {
		timeout := defaultTimeout
		if u.Timeout > 0 {
			timeout = time.Duration(u.Timeout) * time.Second
		}
		switch {
		case u.Shell:
			if err := runShell(dir); err != nil {
				fail("shell", err)
			} else {
				pass("shell")
			}
		case u.Exec != "":
			if err := g.runExec(u, dir, timeout); err != nil {
				fail("exec", err)
			} else {
				pass("exec")
			}
		}
		if u.Test != "" {
			if err := g.runTest(u, dir, timeout); err != nil {
				fail("go test", err)
			}
		}
	}
	for i := len(loaded) - 1; i >= 0; i-- {
		if err := g.ld.Unload(loaded[i], 0); err != nil {
			fail("rmmod "+loaded[i], err)
		} else {
			pass("rmmod " + loaded[i])
		}
	}
	return ok
}

// copyFile puts a file the host sent (--file HOST:/abs/path) in place,
// making its directory.
func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	st, err := os.Stat(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, data, st.Mode().Perm())
}

func readTaint() kcheck.Taint {
	b, err := os.ReadFile("/proc/sys/kernel/tainted")
	if err != nil {
		return 0
	}
	t, _ := kcheck.ParseTaint(string(b))
	return t
}

func moduleName(file string) string {
	return modname.FromPath(file)
}

// leftovers lists the modules of dir that are still loaded.
func leftovers(dir string) []string {
	var out []string
	files, _ := filepath.Glob(filepath.Join(dir, "*.ko"))
	for _, f := range files {
		name := moduleName(f)
		if _, err := os.Stat(filepath.Join("/sys/module", name, "initstate")); err == nil {
			out = append(out, name)
		}
	}
	return out
}

func (g *guest) unitEnv(u proto.Unit, dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, unitSpecEnv+"=") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	slow := u.Slowdown
	if slow < 1 {
		slow = 1
	}
	return append(env,
		proto.EnvSlowdown+"="+strconv.Itoa(slow),
		"PATH="+unitPath(dir),
		"ENV="+proto.ToolFunctions,
		"MODLAB_DIR="+dir,
		"MODLAB_KERNEL="+g.kernel,
		"MODLAB_UNIT="+u.Name,
	)
}

// unitPath is the PATH of a unit's command, shell and tests: the unit's
// own programs first, then modlab's tools, then busybox.
func unitPath(dir string) string {
	return filepath.Join(dir, proto.UnitBin) + ":" + proto.GuestPath
}

// shellPreamble makes a command line's names reach modlab's tools and the
// unit's own programs rather than busybox sh's applets of the same names
// (the shell runs an applet before it looks at the PATH): it reads the
// tools' functions and defines one for each program in the unit's bin.
func shellPreamble(dir string) string {
	var b strings.Builder
	b.WriteString(". " + proto.ToolFunctions + "\n")
	ents, _ := os.ReadDir(filepath.Join(dir, proto.UnitBin))
	for _, e := range ents {
		// Only names busybox would take: a function costs "prog &" its pid.
		if shellName.MatchString(e.Name()) && isApplet(e.Name()) {
			fmt.Fprintf(&b, "%s() { %s \"$@\"; }\n", e.Name(), filepath.Join(dir, proto.UnitBin, e.Name()))
		}
	}
	return b.String()
}

// isApplet reports whether busybox has an applet called name (the image
// links every applet into one of the PATH's folders).
func isApplet(name string) bool {
	for _, d := range []string{"/bin", "/sbin", "/usr/bin", "/usr/sbin"} {
		if target, err := os.Readlink(filepath.Join(d, name)); err == nil && filepath.Base(target) == "busybox" {
			return true
		}
	}
	return false
}

// shellName is what busybox sh accepts as a function's name.
var shellName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// runExec runs a shell command and streams its output.
func (g *guest) runExec(u proto.Unit, dir string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", shellPreamble(dir)+u.Exec)
	cmd.Dir = dir
	cmd.Env = g.unitEnv(u, dir)
	err := g.stream(cmd, func(line string) {
		g.send(proto.Event{Ev: proto.EvOutput, Unit: u.Name, Msg: line})
	})
	if ctx.Err() != nil {
		return fmt.Errorf("command timed out after %v", timeout)
	}
	if err != nil {
		return fmt.Errorf("command failed: %w", err)
	}
	return nil
}

// stream runs cmd with stdout and stderr merged, calling each per line.
func (g *guest) stream(cmd *exec.Cmd, each func(string)) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		return err
	}
	pw.Close()
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			each(sc.Text())
		}
		io.Copy(io.Discard, pr)
	}()
	err = cmd.Wait()
	// A process the command left in the background may hold the pipe
	// open: take what it wrote for a moment, then stop reading.
	select {
	case <-read:
	case <-time.After(outputGrace):
		pr.SetReadDeadline(time.Now())
		<-read
	}
	pr.Close()
	return err
}

// outputGrace is how long the output of a command that exited is still
// read while something it started in the background keeps the pipe open.
const outputGrace = time.Second

var (
	runRe    = regexp.MustCompile(`^=== RUN\s+(\S+)`)
	resultRe = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+) \(([0-9.]+)s\)`)
)

// runTest runs a Go test binary with -test.v and reports each top-level
// test as it starts and ends, with its output.
func (g *guest) runTest(u proto.Unit, dir string, timeout time.Duration) error {
	bin := filepath.Join(dir, u.Test)
	cmd := exec.Command(bin, "-test.v", "-test.count=1",
		"-test.timeout="+timeout.String())
	cmd.Dir = dir
	cmd.Env = g.unitEnv(u, dir)
	var current string
	outputs := map[string][]string{}
	seen := 0
	err := g.stream(cmd, func(line string) {
		if m := runRe.FindStringSubmatch(line); m != nil {
			if !strings.Contains(m[1], "/") {
				current = m[1]
				g.send(proto.Event{Ev: proto.EvTest, Unit: u.Name, Name: current, Status: proto.Run})
			}
			return
		}
		if m := resultRe.FindStringSubmatch(line); m != nil {
			if strings.Contains(m[2], "/") {
				outputs[current] = append(outputs[current], line)
				return
			}
			status := map[string]string{"PASS": proto.Pass, "FAIL": proto.Fail, "SKIP": proto.Skip}[m[1]]
			var secs float64
			fmt.Sscanf(m[3], "%g", &secs)
			seen++
			g.send(proto.Event{Ev: proto.EvTest, Unit: u.Name, Name: m[2], Status: status,
				Elapsed: secs, Msg: strings.Join(outputs[m[2]], "\n")})
			return
		}
		if current != "" {
			outputs[current] = append(outputs[current], line)
		}
		g.send(proto.Event{Ev: proto.EvOutput, Unit: u.Name, Msg: line})
	})
	if err != nil {
		return fmt.Errorf("test binary: %w", err)
	}
	if seen == 0 {
		return errors.New("test binary ran no test")
	}
	return nil
}

// runShell gives the user an interactive busybox shell on the console,
// with job control, and waits for it to exit.
func runShell(dir string) error {
	tty, err := os.OpenFile("/dev/ttyS0", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	defer tty.Close()
	fmt.Fprintf(tty, "\nmodlab: shell in %s with the modules loaded; exit (or Ctrl-D) to unload and power off.\n", dir)
	cmd := exec.Command("/bin/sh", "-l")
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.Env = append(os.Environ(), "PATH="+unitPath(dir), "ENV="+proto.ToolFunctions, "PS1=modlab:\\w# ", "TERM=linux")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Run()
	// A shell that exits because of Ctrl-D or exit N is not our failure.
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil
	}
	return err
}
