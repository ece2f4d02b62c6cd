package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// lab holds the processes of a measurement.
type lab struct {
	dir       string
	gatehouse string // built binary
	self      string // this program, for its helper modes
	procs     []*exec.Cmd
	upstream  string // URL
}

// newLab builds gatehouse (or uses the binary prebuilt names) and this
// program, and starts the upstream.
func newLab(ctx context.Context, prebuilt string) (*lab, error) {
	dir, err := os.MkdirTemp("", "gatehouse-loadtest-")
	if err != nil {
		return nil, err
	}
	l := &lab{dir: dir, gatehouse: filepath.Join(dir, "gatehouse"), self: filepath.Join(dir, "loadtest")}
	builds := map[string]string{l.gatehouse: "./cmd/gatehouse", l.self: "./cmd/loadtest"}
	if prebuilt != "" {
		l.gatehouse = prebuilt
		delete(builds, l.gatehouse)
		delete(builds, filepath.Join(dir, "gatehouse"))
	}
	for bin, pkg := range builds {
		out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("go build %s (run from the repository root): %v\n%s", pkg, err, out)
		}
	}
	addr := freeAddr()
	if _, err := l.start(ctx, l.self, []string{"upstream", "-listen", addr}, nil, nil); err != nil {
		return nil, err
	}
	l.upstream = "http://" + addr
	return l, waitHTTP(ctx, l.upstream+"/health", 10*time.Second)
}

func (l *lab) close() {
	for _, c := range l.procs {
		_ = c.Process.Signal(syscall.SIGTERM)
	}
	for _, c := range l.procs {
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = c.Process.Kill()
		}
	}
	os.RemoveAll(l.dir)
}

// start runs a process; its stderr is kept in logs when not nil.
func (l *lab) start(ctx context.Context, bin string, args, env []string, logs *syncBuffer) (*exec.Cmd, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	if logs != nil {
		cmd.Stderr = logs
	} else {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	l.procs = append(l.procs, cmd)
	return cmd, nil
}

// stop ends one process and waits for it.
func (l *lab) stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	for i, c := range l.procs {
		if c == cmd {
			l.procs = append(l.procs[:i], l.procs[i+1:]...)
			break
		}
	}
}

// gatehouseProc is a running gatehouse serve.
type gatehouseProc struct {
	cmd       *exec.Cmd
	url, ops  string
	logs      *syncBuffer
	startedIn time.Duration // from exec to /readyz answering
}

const adminPassword = "loadtest-admin-password"

func (l *lab) startGatehouse(ctx context.Context, db string, extra ...string) (*gatehouseProc, error) {
	data, ops := freeAddr(), freeAddr()
	g := &gatehouseProc{url: "http://" + data, ops: "http://" + ops, logs: &syncBuffer{}}
	start := time.Now()
	cmd, err := l.start(ctx, l.gatehouse, append([]string{"serve", "--listen", data, "--ops-listen", ops,
		"--upstream", l.upstream, "--db", db, "--log-level", "error"}, extra...),
		[]string{"GATEHOUSE_ADMIN_PASSWORD=" + adminPassword}, g.logs)
	if err != nil {
		return nil, err
	}
	g.cmd = cmd
	if err := waitHTTP(ctx, g.ops+"/readyz", 120*time.Second); err != nil {
		return nil, fmt.Errorf("gatehouse did not become ready: %v\n%s", err, g.logs.String())
	}
	g.startedIn = time.Since(start)
	return g, nil
}

// login returns a token for a user.
func (g *gatehouseProc) login(user, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	res, err := http.Post(g.url+"/gatehouse/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != 200 {
		return "", fmt.Errorf("login %s: status %d", user, res.StatusCode)
	}
	return tok.AccessToken, nil
}

// profile saves Gatehouse's profile name (pprof's /debug/pprof/NAME, with
// query) into file; serve must run with --pprof.
func (g *gatehouseProc) profile(name, file string) error {
	res, err := http.Get(g.ops + "/debug/pprof/" + name)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("profile %s: status %d", name, res.StatusCode)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// gcCPU returns the CPU time Gatehouse's garbage collector has used, from
// its metrics (the runtime's /cpu/classes/gc/total:cpu-seconds), or 0.
func (g *gatehouseProc) gcCPU() time.Duration {
	res, err := http.Get(g.ops + "/metrics")
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_cpu_classes_gc_total_cpu_seconds_total "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return time.Duration(f * float64(time.Second))
		}
	}
	return 0
}

// cpuTime returns the CPU time (user and system) a process has used.
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; fields count from after ")".
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

// rssKB returns a process's resident set and its peak, in KiB.
func rssKB(pid int) (rss, peak int) {
	m := memKB(pid)
	return m.rss, m.peak
}

// mem is a process's resident set (VmRSS), its peak (VmHWM), and the
// resident set's anonymous part (the heap, stacks) and file-backed part
// (the binary's code and read-only data, clean and shared with the page
// cache), in KiB.
type mem struct{ rss, peak, anon, file int }

func memKB(pid int) (m mem) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "VmRSS:":
			m.rss = n
		case "VmHWM:":
			m.peak = n
		case "RssAnon:":
			m.anon = n
		case "RssFile:":
			m.file = n
		}
	}
	return m
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not ready within %s (last error %v)", url, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a process's writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// upstreamBody is what the upstream answers: a small JSON document.
var upstreamBody = []byte(`{"items":[{"id":"1","name":"training","status":"completed"},{"id":"2","name":"batch-inference","status":"running"}]}` + "\n")

// serveUpstream is the protected server.
func serveUpstream(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(upstreamBody)))
		_, _ = w.Write(upstreamBody)
	})
	return serveUntil(ctx, *listen, h)
}

// serveBare is the baseline: a bare httputil.ReverseProxy tuned as a
// production proxy would be (a buffer pool, enough idle connections).
func serveBare(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address")
	upstream := fs.String("upstream", "", "upstream URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	target, err := url.Parse(*upstream)
	if err != nil {
		return err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 1024
	t.DisableCompression = true
	rp := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.Out.Host = pr.In.Host },
		Transport:  t,
		BufferPool: newPool(),
		// Load generators cancel requests at the end of each run; no log.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
	return serveUntil(ctx, *listen, rp)
}

type pool struct{ p sync.Pool }

func newPool() *pool {
	return &pool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}
func (p *pool) Get() []byte  { return *(p.p.Get().(*[]byte)) }
func (p *pool) Put(b []byte) { p.p.Put(&b) }

func serveUntil(ctx context.Context, addr string, h http.Handler) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func machine() string {
	model := ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return fmt.Sprintf("%s, %d cores, %s/%s, %s", model, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}
