//go:build linux || darwin || freebsd || netbsd || openbsd

package cli

import "golang.org/x/sys/unix"

// muteEcho turns the terminal's echo off and returns what turns it back on.
func muteEcho(fd int) (restore func()) {
	t, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return func() {}
	}
	quiet := *t
	quiet.Lflag &^= unix.ECHO
	if unix.IoctlSetTermios(fd, ioctlSetTermios, &quiet) != nil {
		return func() {}
	}
	return func() { _ = unix.IoctlSetTermios(fd, ioctlSetTermios, t) }
}
