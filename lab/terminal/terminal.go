// Package terminal drives a command in a pseudo-terminal as a person would: wait for a prompt,
// type an answer, read what the screen showed. Tests of interactive commands use it.
package terminal

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// Session is a command running in a pseudo-terminal.
type Session struct {
	tb      testing.TB
	cmd     *exec.Cmd
	term    *os.File
	chunks  chan string
	mu      sync.Mutex
	seen    strings.Builder // everything the terminal showed so far
	pending string          // what it showed since the last Expect matched
	// Timeout bounds each Expect (default 60 s).
	Timeout time.Duration
}

// Start starts cmd in a new pseudo-terminal.
func Start(tb testing.TB, cmd *exec.Cmd) *Session {
	tb.Helper()
	term, err := pty.Start(cmd)
	if err != nil {
		tb.Fatal(err)
	}
	s := &Session{tb: tb, cmd: cmd, term: term, chunks: make(chan string, 256), Timeout: 60 * time.Second}
	tb.Cleanup(func() { _ = term.Close() })
	go s.read()
	return s
}

// read splits the output into lines and prompts (a prompt ends in ": " without a newline).
func (s *Session) read() {
	r := bufio.NewReader(s.term)
	var cur strings.Builder
	for {
		b, err := r.ReadByte()
		if err != nil {
			if cur.Len() > 0 {
				s.chunks <- cur.String()
			}
			close(s.chunks)
			return
		}
		cur.WriteByte(b)
		if b == '\n' || strings.HasSuffix(cur.String(), ": ") {
			s.chunks <- cur.String()
			cur.Reset()
		}
	}
}

func (s *Session) take(c string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen.WriteString(c)
	s.pending += c
}

// Expect waits until the terminal shows want (after what the last Expect matched).
func (s *Session) Expect(want string) {
	s.tb.Helper()
	deadline := time.After(s.Timeout)
	for {
		s.mu.Lock()
		i := strings.Index(s.pending, want)
		if i >= 0 {
			s.pending = s.pending[i+len(want):]
		}
		s.mu.Unlock()
		if i >= 0 {
			return
		}
		select {
		case c, ok := <-s.chunks:
			if !ok {
				s.tb.Fatalf("the command ended before showing %q:\n%s", want, s.Transcript())
			}
			s.take(c)
		case <-deadline:
			s.tb.Fatalf("no %q within %s:\n%s", want, s.Timeout, s.Transcript())
		}
	}
}

// Send types line and Enter.
func (s *Session) Send(line string) {
	s.tb.Helper()
	if _, err := s.term.Write([]byte(line + "\r")); err != nil {
		s.tb.Fatalf("typing into the terminal: %v", err)
	}
}

// Wait waits for the command to end and everything it showed to be read.
func (s *Session) Wait() error {
	err := s.cmd.Wait()
	for c := range s.chunks {
		s.take(c)
	}
	return err
}

// Transcript is everything the terminal showed so far, with the terminal's CR LF as LF.
func (s *Session) Transcript() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.ReplaceAll(s.seen.String(), "\r\n", "\n")
}
