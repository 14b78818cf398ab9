// Package localaws runs the AWS stand-ins on this machine: one moto server on a free loopback
// port for DynamoDB, SQS and Secrets Manager, and the table, queues and secret created from
// template.yaml, so tests and `make dev` use exactly what `sam deploy` creates.
package localaws

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// motoServer starts moto with DynamoDB calls serialised (see the script's comment).
//
//go:embed moto_server.py
var motoServer string

// Region, account and credentials the stand-ins use.
const (
	Region    = "us-east-1"
	AccountID = "123456789012" // moto's default account
)

// Python returns the python interpreter to run moto with.
func Python() string {
	if p := os.Getenv("PILOTDESK_PYTHON"); p != "" {
		return p
	}
	return "python3"
}

// EnsureMoto checks that moto's server can be imported (it comes with the machine image; this
// repository never installs Python packages). It returns a clear error when it cannot.
func EnsureMoto(ctx context.Context, log io.Writer) error {
	py := Python()
	check := exec.CommandContext(ctx, py, "-c", "import moto.server, flask, werkzeug")
	if out, err := check.CombinedOutput(); err != nil {
		return fmt.Errorf("moto's server cannot be imported by %s (set PILOTDESK_PYTHON to an interpreter that has moto[server]): %w: %s", py, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Moto is a running moto server.
type Moto struct {
	Endpoint string // http://127.0.0.1:<port>
	cmd      *exec.Cmd
	done     chan struct{}
	stopOnce sync.Once
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartMoto starts a moto server on a free loopback port and waits until it answers.
// Output goes to log (nil discards it).
func StartMoto(ctx context.Context, log io.Writer) (*Moto, error) {
	if log == nil {
		log = io.Discard
	}
	if err := EnsureMoto(ctx, log); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a port can be taken between FreePort and bind
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(Python(), "-c", motoServer, "127.0.0.1", fmt.Sprint(port))
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start moto: %w", err)
		}
		m := &Moto{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
		go func() { _ = cmd.Wait(); close(m.done) }()
		if lastErr = m.wait(ctx, 30*time.Second); lastErr == nil {
			return m, nil
		}
		m.Stop()
	}
	return nil, fmt.Errorf("moto did not start: %w", lastErr)
}

func (m *Moto) wait(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-m.done:
			return errors.New("moto exited during start")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get(m.Endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no answer from %s within %s", m.Endpoint, limit)
}

// Reset wipes all of moto's state.
func (m *Moto) Reset(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, m.Endpoint+"/moto-api/reset", strings.NewReader(""))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("moto reset: %s", resp.Status)
	}
	return nil
}

// Stop ends the server (its whole process group) by PID and waits for it.
func (m *Moto) Stop() {
	m.stopOnce.Do(func() {
		if m.cmd.Process == nil {
			return
		}
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-m.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
			<-m.done
		}
	})
}

// Env returns the environment variables that point the AWS SDK at this server.
func (m *Moto) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":          m.Endpoint,
		"AWS_REGION":                Region,
		"AWS_DEFAULT_REGION":        Region,
		"AWS_ACCESS_KEY_ID":         "test",
		"AWS_SECRET_ACCESS_KEY":     "test",
		"AWS_EC2_METADATA_DISABLED": "true",
	}
}
