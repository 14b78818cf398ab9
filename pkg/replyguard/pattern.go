package replyguard

import (
	"regexp"
	"sync"
)

// pattern is a regular expression compiled on its first use. The guard's ~60 patterns cost
// about 4 ms and 2.7 MB to compile; compiled when a reply is first checked, they stay off the
// cold start of every function that links the guard in.
type pattern struct {
	src  string
	once sync.Once
	re   *regexp.Regexp
}

// patterns are every pattern made, for the test that compiles them all.
var patterns []*pattern

// lazy declares a pattern; it panics on its first use if src does not compile (a test compiles
// every one).
func lazy(src string) *pattern {
	p := &pattern{src: src}
	patterns = append(patterns, p)
	return p
}

func (p *pattern) get() *regexp.Regexp {
	p.once.Do(func() { p.re = regexp.MustCompile(p.src) })
	return p.re
}

func (p *pattern) MatchString(s string) bool { return p.get().MatchString(s) }

func (p *pattern) FindAllStringIndex(s string, n int) [][]int {
	return p.get().FindAllStringIndex(s, n)
}

func (p *pattern) FindAllStringSubmatchIndex(s string, n int) [][]int {
	return p.get().FindAllStringSubmatchIndex(s, n)
}
