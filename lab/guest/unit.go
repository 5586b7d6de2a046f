package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/modlab/modlab/kmod/kmsg"
	"github.com/modlab/modlab/lab/kcheck"
	"github.com/modlab/modlab/lab/proto"
)

const defaultTimeout = 120 * time.Second

// runUnit runs one unit and reports its steps and its verdict.
func (g *guest) runUnit(u proto.Unit) {
	g.send(proto.Event{Ev: proto.EvUnit, Unit: u.Name})
	dir := filepath.Join(workRoot, u.Dir)
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
	pass := func(name string) {
		g.send(proto.Event{Ev: proto.EvStep, Unit: u.Name, Name: name, Status: proto.Pass})
	}

	taint0 := readTaint()
	klog, err := kmsg.Open("/dev/kmsg", false)
	if err == nil {
		klog.SeekEnd()
		defer klog.Close()
	}

	var loaded []string
	for _, m := range u.Load {
		name := "insmod " + m.File
		if m.Params != "" {
			name += " " + m.Params
		}
		if err := inChild("--modlab-insmod", filepath.Join(dir, m.File), m.Params); err != nil {
			fail(name, err)
			break
		}
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
		if err := inChild("--modlab-rmmod", loaded[i]); err != nil {
			fail("rmmod "+loaded[i], err)
		} else {
			pass("rmmod " + loaded[i])
		}
	}
	// Modules a test left behind are unloaded too, and count as a failure:
	// the next unit must start from a clean kernel.
	for _, name := range leftovers(dir) {
		err := inChild("--modlab-rmmod", name)
		if err == nil {
			err = errors.New("the test left it loaded")
		}
		fail("rmmod "+name, err)
	}

	end := proto.Event{Ev: proto.EvUnitEnd, Unit: u.Name}
	var msgs []string
	if klog != nil {
		for {
			r, err := klog.Next()
			if err != nil {
				break
			}
			end.Log = append(end.Log, proto.LogLine{Level: r.Level, Time: r.Time.Seconds(), Msg: r.Message})
			msgs = append(msgs, r.Message)
		}
	}
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

func readTaint() kcheck.Taint {
	b, err := os.ReadFile("/proc/sys/kernel/tainted")
	if err != nil {
		return 0
	}
	t, _ := kcheck.ParseTaint(string(b))
	return t
}

func moduleName(file string) string {
	base := filepath.Base(file)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
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
	return append(os.Environ(),
		"MODLAB_DIR="+dir,
		"MODLAB_KERNEL="+g.kernel,
		"MODLAB_UNIT="+u.Name,
	)
}

// runExec runs a shell command and streams its output.
func (g *guest) runExec(u proto.Unit, dir string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", u.Exec)
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
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			each(sc.Text())
		}
		io.Copy(io.Discard, pr)
	}()
	err = cmd.Wait()
	wg.Wait()
	pr.Close()
	return err
}

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
	cmd.Env = append(os.Environ(), "PS1=modlab:\\w# ", "TERM=linux")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Run()
	// A shell that exits because of Ctrl-D or exit N is not our failure.
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil
	}
	return err
}
