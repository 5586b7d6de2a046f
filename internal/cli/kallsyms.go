package cli

// TODO(issue 3): kallsyms is not written yet.
func runKallsyms(env *Env, args []string) error { return errNotYet("kallsyms") }
