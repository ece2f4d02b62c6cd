package testkit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Process is a running `gatehouse serve`.
type Process struct {
	URL string // the data plane, http://127.0.0.1:PORT
	Ops string // the ops listener, http://127.0.0.1:PORT

	cmd    *exec.Cmd
	logs   LockedBuffer // its stderr, one JSON line per record
	exited chan error   // receives cmd.Wait's result once
}

// StartServe runs `gatehouse serve` with args on loopback ports, debug
// logging, a home directory of its own and env as its environment beyond
// PATH and HOME; it waits until the process logs that it serves, and kills
// it when the test ends.
func StartServe(t testing.TB, env []string, args ...string) *Process {
	t.Helper()
	bin := Binary(t)
	full := append([]string{"serve", "--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0", "--log-level", "debug"}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{cmd: cmd, exited: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			p.logs.Write(append(append(make([]byte, 0, len(line)+1), line...), '\n')) // one write a line
			var m map[string]any
			if json.Unmarshal(line, &m) == nil && m["msg"] == "gatehouse serving" {
				ready <- m
			}
		}
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case m := <-ready:
		p.URL = "http://" + m["listen"].(string)
		p.Ops = "http://" + m["ops_listen"].(string)
	case err := <-p.exited:
		t.Fatalf("gatehouse exited at start: %v\n%s", err, p.Logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("gatehouse did not start\n%s", p.Logs())
	}
	return p
}

// Logs returns everything the process logged so far.
func (p *Process) Logs() string { return p.logs.String() }

// Stop sends SIGTERM and returns how long the process took to exit and its
// exit error; it kills the process after timeout.
func (p *Process) Stop(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		return time.Since(start), err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		return time.Since(start), fmt.Errorf("did not exit within %s", timeout)
	}
}

// Server is a running `gatehouse serve` in front of an Upstream.
type Server struct {
	URL  string    // the data plane, http://127.0.0.1:PORT
	Proc *Process  // the serve process and its log
	Up   *Upstream // what reached the protected server
}

// StartGatehouse runs `gatehouse serve` (StartServe) with a temporary
// SQLite store and the admin password adminPW, in front of an echoing
// Upstream, with extra flags args.
func StartGatehouse(t testing.TB, adminPW string, args ...string) *Server {
	t.Helper()
	up := NewUpstream(t)
	p := StartServe(t, []string{"GATEHOUSE_ADMIN_PASSWORD=" + adminPW},
		append([]string{"--upstream", up.URL, "--db", "sqlite:" + filepath.Join(t.TempDir(), "g.db")}, args...)...)
	return &Server{URL: p.URL, Proc: p, Up: up}
}
