// Command pidwait is a process to look at with pid_info: it prints its own
// pid, then waits until it is killed.
//
//	pidwait &
//	insmod pid_info.ko pid=$!
//
// It prints "My PID is: N", N being its pid in its own pid namespace (1 when
// it was started in a new one), then "Waiting until killed." It sleeps in
// pause(2) on the process's main thread, the thread whose id is the pid, so
// /proc/N/stat and pid_info show it in state S (sleeping). SIGTERM, SIGINT
// or SIGKILL end it.
package main

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

func init() {
	// Keep main on the main thread (the thread group leader): that is the
	// task whose pid we print and which pid_info looks at.
	runtime.LockOSThread()
}

func main() {
	fmt.Printf("My PID is: %d\nWaiting until killed.\n", os.Getpid())
	for {
		// pause returns only when a handled signal arrives; Go handles
		// some (SIGURG for preemption) itself and resumes us.
		unix.Pause()
	}
}
