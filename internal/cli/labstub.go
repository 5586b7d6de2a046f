package cli

func runSetup(env *Env, args []string) error   { return errNotYet("setup") }
func runKernels(env *Env, args []string) error { return errNotYet("kernels") }
func runBuild(env *Env, args []string) error   { return errNotYet("build") }
func runRun(env *Env, args []string) error     { return errNotYet("run") }
func runTest(env *Env, args []string) error    { return errNotYet("test") }
func runBench(env *Env, args []string) error   { return errNotYet("bench") }
