package coverage

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MakeArgs returns the kbuild variables that build a folder's objects with
// gcov profiling (kbuild adds -fprofile-arcs -ftest-coverage). Given on
// make's command line, the variable holds for every object of the folder;
// a Kbuild's GCOV_PROFILE_obj.o := n still leaves that object out.
func MakeArgs() []string { return []string{"GCOV_PROFILE=y"} }

// KernelSupport says whether modules built against the kernel build tree
// buildDir can be profiled: its .config must have CONFIG_GCOV_KERNEL=y, or
// kbuild ignores GCOV_PROFILE and the kernel has no gcov in debugfs. The
// error says what is missing.
func KernelSupport(buildDir string) error {
	cfg := filepath.Join(buildDir, ".config")
	f, err := os.Open(cfg)
	if err != nil {
		return fmt.Errorf("kernel configuration: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "CONFIG_GCOV_KERNEL=y" {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("kernel configuration %s: %w", cfg, err)
	}
	return fmt.Errorf("%s has no CONFIG_GCOV_KERNEL=y", cfg)
}
