package userland

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Package is one Go package to build for the guest: a command, or (Test)
// the package's tests as one binary.
type Package struct {
	Dir  string   // the package's directory
	Name string   // names the binary in the cache
	Test bool     // go test -c instead of go build
	Tags []string // build tags
}

// ErrNoTests is BuildPackage's answer for a Test package without test
// files (for its build tags).
var ErrNoTests = errors.New("no test files")

// NoToolchainError says that a folder has Go programs and the machine has
// no go command to build them.
type NoToolchainError struct {
	Dir      string   // the folder with the programs
	Programs []string // their paths relative to Dir
	Err      error    // what the PATH look-up said
}

func (e *NoToolchainError) Error() string {
	return fmt.Sprintf("%s has Go programs (%s); building them for the guest needs a Go toolchain: none found in PATH (install golang or remove the folder)",
		e.Dir, strings.Join(e.Programs, ", "))
}

func (e *NoToolchainError) Unwrap() error { return e.Err }

// BuildError is a go command that failed: a compile error, most often.
type BuildError struct {
	Dir     string // the package's directory
	Command string // the go command, short: "go build ./cmd/tool"
	WorkDir string // where it ran (the module root, or Dir)
	Output  string // what go printed, verbatim
	Err     error  // how it ended
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("%s: %s (in %s): %v\n%s", e.Dir, e.Command, e.WorkDir, e.Err, strings.TrimRight(e.Output, "\n"))
}

func (e *BuildError) Unwrap() error { return e.Err }

// Toolchain runs the go command. Its zero value uses the go found in PATH;
// tests replace the look-up and the runner.
type Toolchain struct {
	// LookPath finds the go command (exec.LookPath when nil).
	LookPath func(file string) (string, error)
	// Run runs a go command and returns its combined output
	// (cmd.CombinedOutput when nil).
	Run func(cmd *exec.Cmd) ([]byte, error)
}

func (t Toolchain) lookGo() (string, error) {
	if t.LookPath != nil {
		return t.LookPath("go")
	}
	return exec.LookPath("go")
}

func (t Toolchain) run(cmd *exec.Cmd) ([]byte, error) {
	if t.Run != nil {
		return t.Run(cmd)
	}
	return cmd.CombinedOutput()
}

// Build builds p with the go command found in PATH; see Toolchain.Build.
func Build(ctx context.Context, p Program, cacheDir string) (string, error) {
	return Toolchain{}.Build(ctx, p, cacheDir)
}

// Check checks the programs in dir against the go command found in PATH;
// see Toolchain.Check.
func Check(dir string) ([]Program, error) {
	return Toolchain{}.Check(dir)
}

// BuildAll finds and builds the programs in dir with the go command found
// in PATH; see Toolchain.BuildAll.
func BuildAll(ctx context.Context, dir, cacheDir string) (map[string]string, error) {
	return Toolchain{}.BuildAll(ctx, dir, cacheDir)
}

// Build builds program p as a static linux/amd64 binary for the guest and
// returns its path in cacheDir. The binary is kept under a digest of its
// sources, the toolchain and the build settings: an unchanged program
// costs no go invocation.
func (t Toolchain) Build(ctx context.Context, p Program, cacheDir string) (string, error) {
	bin, err := t.BuildPackage(ctx, Package{Dir: p.Dir, Name: p.Name}, cacheDir)
	var nt *NoToolchainError
	if errors.As(err, &nt) && p.Rel != "" {
		nt.Dir = strings.TrimSuffix(strings.TrimSuffix(p.Dir, filepath.FromSlash(p.Rel)), string(filepath.Separator))
		if p.Rel == "." {
			nt.Dir = p.Dir
		}
		nt.Programs = []string{p.Rel}
	}
	return bin, err
}

// buildParallel bounds how many go commands BuildAll runs at once.
const buildParallel = 2

// Check finds the Go programs in dir (see Find) and makes sure they can be
// built for the guest without running go: no two share a name (they would
// be one command in the guest) and, when there is any, a go command is
// found. A folder without programs passes and needs no toolchain. It lets a
// caller report these mistakes before it boots anything.
func (t Toolchain) Check(dir string) ([]Program, error) {
	progs, err := Find(dir)
	if err != nil || len(progs) == 0 {
		return nil, err
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	byName := map[string]Program{}
	rels := make([]string, len(progs))
	for i, p := range progs {
		if q, ok := byName[p.Name]; ok {
			return nil, fmt.Errorf("%s: Go programs %s and %s would both be %q on the guest's PATH (rename one of the folders)",
				root, q.Rel, p.Rel, p.Name)
		}
		byName[p.Name] = p
		rels[i] = p.Rel
	}
	if _, err := t.lookGo(); err != nil {
		return nil, &NoToolchainError{Dir: root, Programs: rels, Err: err}
	}
	return progs, nil
}

// BuildAll checks the Go programs in dir (see Check) and builds them (see
// Build), at most two at a time, returning each binary's path by program
// name. A folder without programs gives an empty map and runs no go.
func (t Toolchain) BuildAll(ctx context.Context, dir, cacheDir string) (map[string]string, error) {
	progs, err := t.Check(dir)
	if err != nil || len(progs) == 0 {
		return nil, err
	}
	bins := make([]string, len(progs))
	errs := make([]error, len(progs))
	sem := make(chan struct{}, buildParallel)
	var wg sync.WaitGroup
	for i, p := range progs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			bins[i], errs[i] = t.Build(ctx, p, cacheDir)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(progs))
	for i, p := range progs {
		out[p.Name] = bins[i]
	}
	return out, nil
}

// guestEnv is the environment the go command gets on top of the caller's:
// a static binary for any x86-64 the guest may emulate, built in module
// mode without a workspace, so that what the digest covers is what the
// build reads.
var guestEnv = []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOAMD64=v1", "GOWORK=off", "GO111MODULE=on"}

// BuildPackage builds p for the guest (see Build) and returns the binary's
// path in cacheDir/go. A package inside a module is built from the
// module's root ("go build ./rel/path"), one outside any module from the
// list of its files for linux/amd64. Concurrent builds of one package, in
// this process or others, are safe: each writes a file of its own and
// renames it into place.
func (t Toolchain) BuildPackage(ctx context.Context, p Package, cacheDir string) (string, error) {
	if p.Dir == "" || p.Name == "" || cacheDir == "" {
		return "", errors.New("build for the guest: the package's folder, name and cache folder must be given")
	}
	dir, err := filepath.Abs(p.Dir)
	if err != nil {
		return "", err
	}
	goCmd, err := t.lookGo()
	if err != nil {
		return "", &NoToolchainError{Dir: dir, Programs: []string{"."}, Err: err}
	}
	verb := "build"
	args := []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w"}
	if p.Test {
		verb = "test"
		args = append([]string{"-c"}, args...)
	}
	if len(p.Tags) > 0 {
		args = append(args, "-tags", strings.Join(p.Tags, ","))
	}
	modRoot := findModuleRoot(dir)
	workDir, targets := modRoot, []string{}
	if modRoot != "" {
		rel, err := filepath.Rel(modRoot, dir)
		if err != nil {
			return "", err
		}
		targets = append(targets, "./"+filepath.ToSlash(rel))
	} else {
		// Named files are compiled whatever their build constraints say:
		// name only those that match the guest.
		bctx := guestContext(p.Tags)
		bp, err := bctx.ImportDir(dir, 0)
		if err != nil {
			return "", fmt.Errorf("%s: %w", dir, err)
		}
		workDir = dir
		targets = append(targets, bp.GoFiles...)
		if p.Test {
			targets = append(targets, bp.TestGoFiles...)
		}
	}

	salt := append([]string{verb, goCmd, toolchainID(goCmd)}, args...)
	salt = append(salt, targets...)
	salt = append(salt, envSalt()...)
	digest, err := sourceDigest(modRoot, dir, salt...)
	if err != nil {
		return "", fmt.Errorf("hash the Go sources of %s: %w", dir, err)
	}
	// The key tells apart packages of one name in different folders.
	key := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%t\x00%s", dir, p.Test, strings.Join(p.Tags, ","))))
	prefix := fmt.Sprintf("%s-%s-", p.Name, hex.EncodeToString(key[:4]))
	cache := filepath.Join(cacheDir, "go")
	out := filepath.Join(cache, prefix+digest)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	tf, err := os.CreateTemp(cache, p.Name+".tmp-*")
	if err != nil {
		return "", err
	}
	tmp := tf.Name()
	tf.Close()
	defer os.Remove(tmp)

	cmd := exec.CommandContext(ctx, goCmd, append(append([]string{verb, "-o", tmp}, args...), targets...)...)
	cmd.Dir = workDir
	cmd.Env = append(os.Environ(), guestEnv...)
	if output, err := t.run(cmd); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s: go %s: %w", dir, verb, ctx.Err())
		}
		return "", &BuildError{Dir: dir, Command: "go " + verb + " " + strings.Join(targets, " "),
			WorkDir: workDir, Output: string(output), Err: err}
	}
	if !isELF(tmp) {
		// go test -c writes nothing without tests; go build -o writes a
		// package archive for a library.
		if p.Test {
			return "", fmt.Errorf("%s: %w", dir, ErrNoTests)
		}
		return "", fmt.Errorf("%s: go build wrote no program (not a main package?)", dir)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	removeStale(cache, prefix, out)
	return out, nil
}

// isELF reports whether the file at path starts like an ELF executable.
func isELF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 4)
	_, err = io.ReadFull(f, magic)
	return err == nil && string(magic) == "\x7fELF"
}

// toolchainID names the go command's build: its resolved path, size and
// time, which change when the toolchain is upgraded.
func toolchainID(goCmd string) string {
	if r, err := filepath.EvalSymlinks(goCmd); err == nil {
		goCmd = r
	}
	st, err := os.Stat(goCmd)
	if err != nil {
		return goCmd
	}
	return fmt.Sprintf("%s %d %d", goCmd, st.Size(), st.ModTime().UnixNano())
}

// envSalt is the part of the environment, and of go env -w's file, that
// changes what the go command builds.
func envSalt() []string {
	var out []string
	for _, k := range []string{"GOFLAGS", "GOEXPERIMENT", "GOTOOLCHAIN", "GOROOT", "GOENV"} {
		out = append(out, k+"="+os.Getenv(k))
	}
	envFile := os.Getenv("GOENV")
	if envFile == "" {
		if d, err := os.UserConfigDir(); err == nil {
			envFile = filepath.Join(d, "go", "env")
		}
	}
	if envFile != "" && envFile != "off" {
		if b, err := os.ReadFile(envFile); err == nil {
			out = append(out, "goenv="+string(b))
		}
	}
	return out
}

// staleAge is how old a superseded binary must be before it is removed: a
// run that started just before may still be about to copy it.
const staleAge = time.Hour

// removeStale removes the earlier builds of one package (files in dir
// named prefix+digest), except keep.
func removeStale(dir, prefix, keep string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if p == keep || !strings.HasPrefix(e.Name(), prefix) || strings.Contains(e.Name(), ".tmp-") {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleAge {
			os.Remove(p)
		}
	}
}
