package cli

// TODO(issue 3): lsmod is not written yet.
func runLsmod(env *Env, args []string) error { return errNotYet("lsmod") }
