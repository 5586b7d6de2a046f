package uapi

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// cProgram prints the header's numbers, one per line, in the order of want
// in TestMatchesCHeader.
const cProgram = `#include <stdio.h>
#include "chardev2.h"

int main(void)
{
	printf("%lu\n%lu\n%lu\n", (unsigned long)IOCTL_SET_MSG,
	       (unsigned long)IOCTL_GET_MSG, (unsigned long)IOCTL_GET_NTH_BYTE);
	printf("%d\n%d\n%s\n%s\n", CHARDEV2_MAJOR, CHARDEV2_BUF_LEN,
	       CHARDEV2_DEVICE_NAME, CHARDEV2_DEVICE_PATH);
	return 0;
}
`

// TestMatchesCHeader compiles a C program with include/chardev2.h and the
// host's <linux/ioctl.h> (linux-libc-dev) and checks that it prints the
// numbers this package has.
func TestMatchesCHeader(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler on this host: ", err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "numbers.c")
	if err := os.WriteFile(src, []byte(cProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	include, err := filepath.Abs("../include")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "numbers")
	if out, err := exec.Command(cc, "-std=c99", "-Wall", "-Werror", "-I", include, "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	want := []struct {
		name string
		val  string
	}{
		{"IOCTL_SET_MSG", strconv.FormatUint(uint64(IoctlSetMsg), 10)},
		{"IOCTL_GET_MSG", strconv.FormatUint(uint64(IoctlGetMsg), 10)},
		{"IOCTL_GET_NTH_BYTE", strconv.FormatUint(uint64(IoctlGetNthByte), 10)},
		{"CHARDEV2_MAJOR", strconv.Itoa(Major)},
		{"CHARDEV2_BUF_LEN", strconv.Itoa(BufLen)},
		{"CHARDEV2_DEVICE_NAME", DeviceName},
		{"CHARDEV2_DEVICE_PATH", DevicePath},
	}
	if len(got) != len(want) {
		t.Fatalf("the C program printed %d lines, want %d:\n%s", len(got), len(want), out)
	}
	for i, w := range want {
		if got[i] != w.val {
			t.Errorf("%s: C says %s, Go says %s", w.name, got[i], w.val)
		}
	}
}

// TestKnownNumbers pins the numbers for 64-bit Linux, where the guest
// runs, as strace and the kernel's ioctl-number notes would write them.
func TestKnownNumbers(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the numbers differ on 32-bit systems: the size of char * is part of them")
	}
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"IoctlSetMsg", IoctlSetMsg, 0x40086400},
		{"IoctlGetMsg", IoctlGetMsg, 0x80086401},
		{"IoctlGetNthByte", IoctlGetNthByte, 0xc0046402},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
}
