package cli

// TODO(issue 3): insmod is not written yet.
func runInsmod(env *Env, args []string) error { return errNotYet("insmod") }
