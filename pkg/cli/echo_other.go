//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package cli

// muteEcho is a no-op where the terminal cannot be set (term.ReadPassword still hides input).
func muteEcho(int) (restore func()) { return func() {} }
