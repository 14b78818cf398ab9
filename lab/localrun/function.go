// Package localrun wires the real `bootstrap` binaries together the way AWS does, on this
// machine: each function in its own Lambda Runtime Interface Emulator process (invocations
// serialised: RIE crashes on concurrent ones), an SQS event-source mapping for the worker,
// schedule ticks for the scheduler, and an API Gateway HTTP API (payload v2) in front of the
// webhook. The end-to-end tests and `make dev` both run on it.
package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/localaws"
)

// RIEPath returns the aws-lambda-rie binary: $PILOTDESK_RIE, else bin/aws-lambda-rie under the
// repository root, else from PATH.
func RIEPath(repoRoot string) (string, error) {
	if p := os.Getenv("PILOTDESK_RIE"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p := filepath.Join(repoRoot, "bin", "aws-lambda-rie")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	return "", errors.New("aws-lambda-rie not found: run `make tools` (it installs the pinned version into bin/)")
}

// Function is one function running under its own RIE.
type Function struct {
	ID        string
	bootstrap string
	rie       string
	env       []string
	log       io.Writer

	mu       sync.Mutex // one invocation at a time, like one Lambda instance
	pmu      sync.Mutex // guards cmd, so Kill can run during an invocation
	cmd      *exec.Cmd
	done     chan struct{}
	addr     string
	inits    int
	invokes  int
	timeouts int
}

// FunctionError is a function's error result (RIE answers 200 with errorMessage/errorType).
type FunctionError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Type, e.Message)
}

// StartFunction starts RIE with bootstrap. env is the function's whole environment.
func StartFunction(id, rie, bootstrap string, env map[string]string, log io.Writer) (*Function, error) {
	if log == nil {
		log = io.Discard
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	f := &Function{ID: id, bootstrap: bootstrap, rie: rie, log: log}
	for _, k := range keys {
		f.env = append(f.env, k+"="+env[k])
	}
	f.env = append(f.env, "PATH="+os.Getenv("PATH"), "HOME="+os.TempDir())
	for _, k := range []string{"PILOTDESK_PPROF_DIR", "PILOTDESK_PPROF_HZ"} { // a pilotdesk_pprof build's settings
		if v, ok := os.LookupEnv(k); ok {
			f.env = append(f.env, k+"="+v)
		}
	}
	if err := f.start(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *Function) start() error {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p1, err := localaws.FreePort()
		if err != nil {
			return err
		}
		p2, err := localaws.FreePort()
		if err != nil {
			return err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", p1)
		cmd := exec.Command(f.rie, "--runtime-interface-emulator-address", addr,
			"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", p2), f.bootstrap)
		cmd.Dir = filepath.Dir(f.bootstrap)
		cmd.Env = f.env
		cmd.Stdout, cmd.Stderr = f.log, f.log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s under RIE: %w", f.ID, err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		f.pmu.Lock()
		f.cmd, f.done, f.addr = cmd, done, addr
		f.pmu.Unlock()
		if lastErr = waitTCP(addr, done, 10*time.Second); lastErr == nil {
			f.inits++
			return nil
		}
		f.kill()
	}
	return fmt.Errorf("RIE for %s did not start: %w", f.ID, lastErr)
}

func waitTCP(addr string, done <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("RIE exited during start")
		default:
		}
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s not listening after %s", addr, limit)
}

func (f *Function) alive() bool {
	select {
	case <-f.done:
		return false
	default:
		return true
	}
}

// Invoke sends one event and returns the function's result. A function error comes back as
// *FunctionError. If RIE died (a crash test killed it), it is restarted first, as Lambda
// starts a new instance.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.alive() {
		if err := f.start(); err != nil {
			return nil, err
		}
	}
	f.invokes++
	start := time.Now()
	defer func() {
		// RIE ends an invocation that outlives AWS_LAMBDA_FUNCTION_TIMEOUT ("Task timed out"),
		// as Lambda does; count it however RIE phrased the answer.
		if limit := f.timeout(); limit > 0 && time.Since(start) >= limit {
			f.timeouts++
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+f.addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", f.ID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 6<<20))
	if err != nil {
		return nil, fmt.Errorf("invoke %s: read result: %w", f.ID, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("invoke %s: RIE answered %s: %s", f.ID, resp.Status, body)
	}
	var fe FunctionError
	if json.Unmarshal(body, &fe) == nil && fe.Type != "" && fe.Message != "" {
		return nil, &fe
	}
	return body, nil
}

// Kill kills the function's RIE and bootstrap at once, as a crashed Lambda instance; the next
// Invoke starts a new one. It does not wait for an invocation in progress.
func (f *Function) Kill() {
	cmd := f.cmdLocked()
	if cmd != nil && cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

func (f *Function) cmdLocked() *exec.Cmd {
	f.pmu.Lock()
	defer f.pmu.Unlock()
	return f.cmd
}

func (f *Function) kill() {
	if f.cmd == nil || f.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-f.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		<-f.done
	}
}

// Stop ends the function's processes by PID.
func (f *Function) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kill()
}

// timeout is the function's Lambda timeout from its environment (0 when unset).
func (f *Function) timeout() time.Duration {
	for _, kv := range f.env {
		if v, ok := strings.CutPrefix(kv, "AWS_LAMBDA_FUNCTION_TIMEOUT="); ok {
			n, _ := strconv.Atoi(v)
			return time.Duration(n) * time.Second
		}
	}
	return 0
}

// Timeouts reports how many invocations ran into the function's timeout.
func (f *Function) Timeouts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.timeouts
}

// Stats reports how many times the function was started (cold starts) and invoked.
func (f *Function) Stats() (inits, invokes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inits, f.invokes
}

// bootstrapPIDs are the processes the emulator runs for the function (its bootstrap).
func (f *Function) bootstrapPIDs() []string {
	cmd := f.cmdLocked()
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	var pids []string
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", cmd.Process.Pid))
	for _, tf := range tasks {
		if b, err := os.ReadFile(tf); err == nil {
			pids = append(pids, strings.Fields(string(b))...)
		}
	}
	return pids
}

// SchedStat is what the kernel's scheduler counted for the function's current bootstrap, over
// all its threads (/proc/<pid>/task/*/schedstat): time on a CPU (a nanosecond clock, not the
// 10 ms ticks of /proc/<pid>/stat) and how many times a thread was put on a CPU, each after a wait
// (a wake-up: a network answer, a timer, another thread's hand-off). Zero where /proc is
// missing.
func (f *Function) SchedStat() (onCPU time.Duration, wakes int64) {
	return f.overBootstraps(SchedStat)
}

// overBootstraps sums stat over the function's current bootstraps.
func (f *Function) overBootstraps(stat func(pid string) (time.Duration, int64)) (onCPU time.Duration, wakes int64) {
	for _, pid := range f.bootstrapPIDs() {
		c, w := stat(pid)
		onCPU, wakes = onCPU+c, wakes+w
	}
	return onCPU, wakes
}

// SchedStat is the scheduler's count for one process, summed over its threads.
func SchedStat(pid string) (onCPU time.Duration, wakes int64) {
	threads, _ := filepath.Glob("/proc/" + pid + "/task/*/schedstat")
	for _, th := range threads {
		c, w := threadSchedStat(th)
		onCPU, wakes = onCPU+c, wakes+w
	}
	return onCPU, wakes
}

// MonitorSchedStat is SchedStat of the bootstraps' Go runtime monitor thread (sysmon) alone:
// the part of their CPU time that is the runtime watching, not Pilotdesk working. sysmon
// polls every 20 µs while the process runs and sleeps while it waits, so it is woken at the
// start of every burst of work (each answer the process waited for) and polls through it.
func (f *Function) MonitorSchedStat() (onCPU time.Duration, wakes int64) {
	return f.overBootstraps(MonitorSchedStat)
}

// MonitorSchedStat is the scheduler's count for a Go process's sysmon thread: the second
// thread the process made (thread ids grow), which the runtime starts for sysmon before
// anything else runs.
func MonitorSchedStat(pid string) (onCPU time.Duration, wakes int64) {
	main, err := strconv.Atoi(pid)
	if err != nil {
		return 0, 0
	}
	tasks, _ := os.ReadDir("/proc/" + pid + "/task")
	second := 0
	for _, t := range tasks {
		if id, err := strconv.Atoi(t.Name()); err == nil && id > main && (second == 0 || id < second) {
			second = id
		}
	}
	if second == 0 {
		return 0, 0
	}
	return threadSchedStat(fmt.Sprintf("/proc/%s/task/%d/schedstat", pid, second))
}

// threadSchedStat reads one thread's schedstat: nanoseconds on a CPU, and times put on one.
func threadSchedStat(path string) (onCPU time.Duration, wakes int64) {
	s, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(s))
	if len(f) != 3 {
		return 0, 0
	}
	ns, _ := strconv.ParseInt(f[0], 10, 64)
	n, _ := strconv.ParseInt(f[2], 10, 64)
	return time.Duration(ns), n
}
