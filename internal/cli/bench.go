package cli

func runBench(env *Env, args []string) error { return errNotYet("bench") }
