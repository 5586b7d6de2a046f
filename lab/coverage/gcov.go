package coverage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// findGcov returns a gcov program that reads the notes of GCC version
// want: explicit if given, else gcov or gcov-MAJOR from the PATH, the one
// of the same major and minor version first, then one of the same major
// version. Another version misreads the files, so none is an error that
// says which versions were found.
func findGcov(ctx context.Context, want gccVersion, explicit string) (string, error) {
	cands := []string{"gcov", fmt.Sprintf("gcov-%d", want.major)}
	if explicit != "" {
		cands = []string{explicit}
	}
	var found []string
	sameMajor := ""
	for _, c := range cands {
		path, err := exec.LookPath(c)
		if err != nil {
			found = append(found, c+": not installed")
			continue
		}
		v, err := gcovVersion(ctx, path)
		if err != nil {
			found = append(found, fmt.Sprintf("%s: %v", c, err))
			continue
		}
		if v == want {
			return path, nil
		}
		if v.major == want.major && sameMajor == "" {
			sameMajor = path
		}
		found = append(found, fmt.Sprintf("%s is %s", c, v))
	}
	if sameMajor != "" {
		return sameMajor, nil
	}
	return "", fmt.Errorf("the modules were compiled by GCC %s and there is no gcov of that version (%s): install gcc-%d",
		want, strings.Join(found, "; "), want.major)
}

// gcovVersion runs gcov --version; its first line ends with the version,
// sometimes followed by a date
// ("gcov (Debian 12.2.0-14+deb12u1) 12.2.0").
func gcovVersion(ctx context.Context, gcov string) (gccVersion, error) {
	out, err := exec.CommandContext(ctx, gcov, "--version").Output()
	if err != nil {
		return gccVersion{}, fmt.Errorf("%s --version: %w", gcov, err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return parseGcovVersion(first)
}

func parseGcovVersion(line string) (gccVersion, error) {
	fields := strings.Fields(line)
	for i := len(fields) - 1; i >= 0; i-- {
		parts := strings.Split(fields[i], ".")
		if len(parts) < 2 {
			continue
		}
		major, err1 := strconv.Atoi(parts[0])
		minor, err2 := strconv.Atoi(parts[1])
		if err1 == nil && err2 == nil {
			return gccVersion{major, minor}, nil
		}
	}
	return gccVersion{}, fmt.Errorf("no version in %q", line)
}

// runGcov runs gcov in dir on the notes files (relative to dir; each
// object's data file, if any, beside it) and returns its JSON documents.
// A notes file without data is an object whose code never ran: gcov says
// so on stderr and counts zero, which is what we want.
func runGcov(ctx context.Context, gcov, dir string, notes []string) ([]gcovDoc, error) {
	args := append([]string{"--branch-probabilities", "--branch-counts", "--json-format", "--stdout", "--"}, notes...)
	cmd := exec.CommandContext(ctx, gcov, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", gcov, err, strings.TrimSpace(stderr.String()))
	}
	docs, err := parseGcovJSON(&stdout)
	if err != nil {
		return nil, err
	}
	if len(docs) != len(notes) {
		return nil, fmt.Errorf("%s printed coverage for %d of %d objects: %s", gcov, len(docs), len(notes), strings.TrimSpace(stderr.String()))
	}
	return docs, nil
}
