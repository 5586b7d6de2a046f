// Command static is a static Go program for the lab's tests.
package main

func main() {}
