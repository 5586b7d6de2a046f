package uapi_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/modlab/modlab/examples/ioctl/uapi"
)

// probe prints, for each name, the value the C header gives it.
const probe = `#include <stdio.h>
#include <ioctltest.h>

int main(void)
{
	printf("IOCTL_VALSET %lu\n", (unsigned long)IOCTL_VALSET);
	printf("IOCTL_VALGET %lu\n", (unsigned long)IOCTL_VALGET);
	printf("IOCTL_VALGET_NUM %lu\n", (unsigned long)IOCTL_VALGET_NUM);
	printf("IOCTL_VALSET_NUM %lu\n", (unsigned long)IOCTL_VALSET_NUM);
	printf("IOCTLTEST_MAGIC %lu\n", (unsigned long)IOCTLTEST_MAGIC);
	printf("sizeof(struct ioctl_arg) %lu\n", (unsigned long)sizeof(struct ioctl_arg));
	printf("IOCTLTEST_NAME %s\n", IOCTLTEST_NAME);
	return 0;
}
`

// TestConstantsMatchHeader compiles a C program with the module's uapi
// header using the host's C compiler and checks that every Go constant is
// the number C computes with the kernel's _IOW/_IOR macros.
func TestConstantsMatchHeader(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skipf("no C compiler: %v", err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "probe.c")
	if err := os.WriteFile(src, []byte(probe), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "probe")
	if out, err := exec.Command(cc, "-Wall", "-Werror", "-I", filepath.Join("..", "include"), "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		i := strings.LastIndexByte(line, ' ')
		got[line[:i]] = line[i+1:]
	}
	num := func(n uint64) string { return strconv.FormatUint(n, 10) }
	for _, tc := range []struct{ name, want string }{
		{"IOCTL_VALSET", num(uapi.ValSet)},
		{"IOCTL_VALGET", num(uapi.ValGet)},
		{"IOCTL_VALGET_NUM", num(uapi.ValGetNum)},
		{"IOCTL_VALSET_NUM", num(uapi.ValSetNum)},
		{"IOCTLTEST_MAGIC", num(uapi.Magic)},
		{"sizeof(struct ioctl_arg)", num(uint64(unsafe.Sizeof(uapi.Arg{})))},
		{"IOCTLTEST_NAME", uapi.Name},
	} {
		if c, ok := got[tc.name]; !ok {
			t.Errorf("the probe printed no %s:\n%s", tc.name, out)
		} else if c != tc.want {
			t.Errorf("%s: C says %s, Go says %s", tc.name, c, tc.want)
		}
	}
}
