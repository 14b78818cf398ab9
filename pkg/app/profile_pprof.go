//go:build pilotdesk_pprof

package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// A bootstrap built with the pilotdesk_pprof tag (make build-<LogicalId> GOTAGS=pilotdesk_pprof;
// the local runtime's build passes GOTAGS on) profiles its CPU from the start, into one file a
// second under $PILOTDESK_PPROF_DIR (default $TMPDIR/pilotdesk-pprof, which must exist; $PILOTDESK_PPROF_HZ
// samples a second instead of 100, for short runs): the emulator kills it without
// warning, so only what was written survives; `go tool pprof` merges the files. It also counts
// its AWS calls by service and operation, with the bytes sent and received, in a .calls file
// rewritten every second. Lab only: no deployed build carries the tag.
func init() {
	dir := os.Getenv("PILOTDESK_PPROF_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "pilotdesk-pprof")
	}
	prefix := filepath.Join(dir, fmt.Sprintf("pilotdesk-%d-", os.Getpid()))
	labAPIOptions = append(labAPIOptions, func(s *middleware.Stack) error {
		return s.Deserialize.Add(middleware.DeserializeMiddlewareFunc("pilotdeskCount",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleDeserialize(ctx, in)
				var sent, got int64
				if r, ok := in.Request.(*smithyhttp.Request); ok {
					sent = r.ContentLength
				}
				if r, ok := out.RawResponse.(*smithyhttp.Response); ok {
					got = r.ContentLength
				}
				calls.add(middleware.GetServiceID(ctx)+"."+middleware.GetOperationName(ctx), sent, got)
				return out, md, err
			}), middleware.After)
	})
	hz, _ := strconv.Atoi(os.Getenv("PILOTDESK_PPROF_HZ")) // 0: pprof's 100 Hz
	start := func(n int) *os.File {
		if hz > 0 {
			runtime.SetCPUProfileRate(hz) // before StartCPUProfile, which then keeps it (and says so on stderr)
		}
		f, err := os.Create(fmt.Sprintf("%s%04d.pprof", prefix, n))
		if err != nil {
			fmt.Fprintln(os.Stderr, "pilotdesk: cpu profile:", err)
			return nil
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "pilotdesk: cpu profile:", err)
			_ = f.Close()
			return nil
		}
		return f
	}
	f := start(0)
	if f == nil {
		return
	}
	go func() {
		for n := 1; f != nil; n++ {
			time.Sleep(time.Second)
			pprof.StopCPUProfile()
			_ = f.Close()
			f = start(n)
			calls.write(prefix + "aws.calls")
		}
	}()
}

var calls = &counter{m: map[string]*[3]int64{}}

type counter struct {
	mu sync.Mutex
	m  map[string]*[3]int64 // calls, bytes sent, bytes received
}

func (c *counter) add(op string, sent, got int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.m[op]
	if v == nil {
		v = new([3]int64)
		c.m[op] = v
	}
	v[0]++
	v[1] += sent
	v[2] += got
}

func (c *counter) write(name string) {
	c.mu.Lock()
	ops := make([]string, 0, len(c.m))
	for op := range c.m {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	var b []byte
	for _, op := range ops {
		v := c.m[op]
		b = fmt.Appendf(b, "%s calls=%d sent=%d received=%d\n", op, v[0], v[1], v[2])
	}
	c.mu.Unlock()
	_ = os.WriteFile(name, b, 0o644)
}
