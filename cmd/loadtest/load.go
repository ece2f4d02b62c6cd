package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// result is one measurement.
type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int64 // transport errors and non-2xx answers
	requests int64
}

// target is what a load generator sends: a URL and a header, or a function
// that makes each request (random paths and tokens).
type target struct {
	url    string
	header map[string]string
	next   func(i int64) (url, token string) // optional
}

// generator runs load against a target for a duration.
type generator interface {
	name() string
	run(ctx context.Context, t target, conns int, d time.Duration) (result, error)
}

func pickGenerator(tool string) (generator, error) {
	_, err := exec.LookPath("wrk")
	switch {
	case tool == "wrk" && err != nil:
		return nil, fmt.Errorf("wrk is not installed (apt-get install wrk), or use -tool go")
	case tool == "wrk" || (tool == "auto" && err == nil):
		return wrk{}, nil
	case tool == "go" || tool == "auto":
		return goLoad{}, nil
	}
	return nil, fmt.Errorf("-tool %q: want wrk, go or auto", tool)
}

// goLoad is a closed-loop load generator: conns workers, each with its own
// keep-alive connection, each sending the next request when the last one
// is answered.
type goLoad struct{}

func (goLoad) name() string { return "go" }

func (goLoad) run(ctx context.Context, t target, conns int, d time.Duration) (result, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var (
		seq    atomic.Int64
		errs   atomic.Int64
		mu     sync.Mutex
		all    []time.Duration
		wg     sync.WaitGroup
		cctx   context.Context
		cancel context.CancelFunc
	)
	cctx, cancel = context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<16)
			for cctx.Err() == nil {
				i := seq.Add(1)
				url, tok := t.url, ""
				if t.next != nil {
					url, tok = t.next(i)
				}
				req, _ := http.NewRequestWithContext(cctx, "GET", url, nil)
				for k, v := range t.header {
					req.Header.Set(k, v)
				}
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					if cctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode >= 300 && t.next == nil {
					errs.Add(1)
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(all) == 0 {
		return result{}, fmt.Errorf("no request completed")
	}
	slices.Sort(all)
	return result{
		rps: float64(len(all)) / elapsed.Seconds(), requests: int64(len(all)), errors: errs.Load(),
		p50: all[len(all)/2], p99: all[len(all)*99/100],
	}, nil
}

// wrk drives the target with wrk, which leaves more CPU to the proxies.
type wrk struct{}

func (wrk) name() string { return "wrk" }

var (
	wrkRPS     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkTotal   = regexp.MustCompile(`(\d+) requests in`)
	wrkLatency = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocket  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func (wrk) run(ctx context.Context, t target, conns int, d time.Duration) (result, error) {
	if t.next != nil {
		return result{}, fmt.Errorf("wrk cannot vary paths and tokens; use -tool go")
	}
	args := []string{"-t2", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(int(d.Seconds())) + "s", "--latency"}
	for k, v := range t.header {
		args = append(args, "-H", k+": "+v)
	}
	out, err := exec.CommandContext(ctx, "wrk", append(args, t.url)...).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	s := string(out)
	var r result
	if m := wrkRPS.FindStringSubmatch(s); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := wrkTotal.FindStringSubmatch(s); m != nil {
		r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	for _, m := range wrkLatency.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[3]]
		if m[1] == "50" {
			r.p50 = time.Duration(v * float64(unit))
		} else {
			r.p99 = time.Duration(v * float64(unit))
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(s); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		r.errors += n
	}
	if m := wrkSocket.FindStringSubmatch(s); m != nil {
		for _, x := range m[1:] {
			n, _ := strconv.ParseInt(x, 10, 64)
			r.errors += n
		}
	}
	if r.rps == 0 {
		return r, fmt.Errorf("could not read wrk's output:\n%s", s)
	}
	return r, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianDur(xs []time.Duration) time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }

func mib(kb int) string { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }

func table(rows [][]string) string {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	var b strings.Builder
	for ri, r := range rows {
		b.WriteString("|")
		for i, c := range r {
			fmt.Fprintf(&b, " %-*s |", widths[i], c)
		}
		b.WriteString("\n")
		if ri == 0 {
			b.WriteString("|")
			for _, w := range widths {
				b.WriteString(strings.Repeat("-", w+2) + "|")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}
