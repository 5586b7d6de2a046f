package cli

// TODO(issue 3): modinfo is not written yet.
func runModinfo(env *Env, args []string) error { return errNotYet("modinfo") }
