package guest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/modlab/modlab/kmod/loader"
)

// Module loads and unloads run in a child process: if a module's init or
// exit function oopses, the kernel kills the task that called it, and that
// must not be PID 1.

type childResult struct {
	Errno int    `json:"errno"`
	Msg   string `json:"msg"`
}

// childMain is /init re-executed as "--modlab-insmod FILE PARAMS" or
// "--modlab-rmmod NAME".
func childMain(args []string) int {
	var ld loader.Loader
	var err error
	switch {
	case args[0] == "--modlab-unit" && len(args) == 1:
		return unitMain()
	case args[0] == "--modlab-insmod" && len(args) == 3:
		err = ld.LoadFile(args[1], args[2])
	case args[0] == "--modlab-rmmod" && len(args) == 2:
		err = ld.Unload(args[1], 0)
	default:
		err = fmt.Errorf("bad child arguments %q", args)
	}
	if err == nil {
		return 0
	}
	r := childResult{Msg: err.Error()}
	var le *loader.Error
	if errors.As(err, &le) {
		r.Errno = int(le.Errno)
	}
	json.NewEncoder(os.Stdout).Encode(r)
	return 1
}

// childError is a load or unload that failed in the child.
type childError struct{ childResult }

func (e *childError) Error() string { return e.Msg }

// inChild runs /init with args and turns its report into an error.
func inChild(args ...string) error {
	out, err := exec.Command("/proc/self/exe", args...).Output()
	if err == nil {
		return nil
	}
	var r childResult
	if jerr := json.Unmarshal(out, &r); jerr == nil && r.Msg != "" {
		return &childError{r}
	}
	return fmt.Errorf("%s %v: %v (the kernel may have killed it: see the log)", args[0][len("--modlab-"):], args[1:], err)
}
