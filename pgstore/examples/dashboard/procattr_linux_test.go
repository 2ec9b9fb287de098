package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent has cmd's process killed when the test's ends, even by a
// panic or a kill that runs no cleanup, so that no instance outlives the
// test holding its port. Linux sends the signal when the thread that
// started the process ends, which in Go happens only to a thread whose
// goroutine exits while locked to it; these tests lock none.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
