package cli

// TODO(issue 3): depmod is not written yet.
func runDepmod(env *Env, args []string) error { return errNotYet("depmod") }
