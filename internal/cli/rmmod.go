package cli

// TODO(issue 3): rmmod is not written yet.
func runRmmod(env *Env, args []string) error { return errNotYet("rmmod") }
