// Command recoverybot runs the account-recovery intake desk: the daemon
// that reads the contact mailbox, and the commands agents and operators
// use. See README.md.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}))
}
