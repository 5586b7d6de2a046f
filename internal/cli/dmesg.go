package cli

// TODO(issue 3): dmesg is not written yet.
func runDmesg(env *Env, args []string) error { return errNotYet("dmesg") }
