package localrun

import (
	"bytes"
	"sync"
)

// LogBuffer collects the functions' and the emulator's output (Options.Log) for a test to read
// while they keep writing: safe for concurrent use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// Len is how many bytes were written so far (a mark to read what follows).
func (l *LogBuffer) Len() int { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Len() }
