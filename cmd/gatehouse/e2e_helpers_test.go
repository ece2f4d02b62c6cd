package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// gatehouseBinary builds the command once per test run and returns its path.
func gatehouseBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "gatehouse")
		// As the README installs it.
		install := exec.Command("go", "install", ".")
		install.Env = append(os.Environ(), "GOBIN="+dir)
		out, err := install.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// process is a running gatehouse serve.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string // data plane base URL
	ops    string // ops base URL
	mu     sync.Mutex
	logs   bytes.Buffer // guarded by mu
	exited chan error
}

// startServe runs `gatehouse serve` with args on loopback ports and waits
// until it listens.
func startServe(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	bin := gatehouseBinary(t)
	full := append([]string{"serve", "--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0", "--log-level", "debug"}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{t: t, cmd: cmd, exited: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			p.mu.Lock()
			p.logs.Write(line)
			p.logs.WriteByte('\n')
			p.mu.Unlock()
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
		p.url = "http://" + m["listen"].(string)
		p.ops = "http://" + m["ops_listen"].(string)
	case err := <-p.exited:
		t.Fatalf("gatehouse exited at start: %v\n%s", err, p.Logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("gatehouse did not start\n%s", p.Logs())
	}
	return p
}

// Logs returns everything the process logged so far.
func (p *process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// stop sends SIGTERM and returns how long the process took to exit and its
// exit error.
func (p *process) stop(timeout time.Duration) (time.Duration, error) {
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

// do sends a request with an optional bearer token (and a JSON body, when
// there is one) and returns status, body and headers.
func do(t *testing.T, method, url, token, body string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	if token != "" {
		hdr = append(hdr, "Authorization", "Bearer "+token)
	}
	if body != "" {
		hdr = append(hdr, "Content-Type", "application/json")
	}
	return doRaw(t, method, url, body, hdr...)
}

// doRaw sends a request with exactly the headers given (name, value
// pairs) and no credentials.
func doRaw(t *testing.T, method, url, body string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return res.StatusCode, readAll(t, res.Body), res.Header
}

// rawRequest sends a request line exactly as given, so that no client
// library normalizes the path, and returns the status code.
func rawRequest(t *testing.T, base, method, target, token string) int {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", method, target, host, token)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	res.Body.Close()
	return res.StatusCode
}

// rawExchange writes request to base's listener byte for byte (request
// line, headers and body, none of them normalized by a client library) and
// returns the answer's status, body and headers.
func rawExchange(t *testing.T, base, request string) (int, string, http.Header) {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s: %v", strings.SplitN(request, "\r\n", 2)[0], err)
	}
	return res.StatusCode, readAll(t, res.Body), res.Header
}

// login returns an access token.
func login(t *testing.T, base, user, pw string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": pw})
	status, out, _ := do(t, "POST", base+"/gatehouse/v1/login", "", string(body))
	if status != http.StatusOK {
		t.Fatalf("login %s: %d %s", user, status, out)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("login %s: %s", user, out)
	}
	return tok.AccessToken
}
