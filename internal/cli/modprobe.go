package cli

// TODO(issue 3): modprobe is not written yet.
func runModprobe(env *Env, args []string) error { return errNotYet("modprobe") }
