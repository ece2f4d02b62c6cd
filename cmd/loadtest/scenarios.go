package main

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"
)

// restWait is how long the comparison leaves the proxies idle after the
// load before it reads their memory at rest.
const restWait = 12 * time.Second

// contender is one proxy of the comparison.
type contender struct {
	name string
	pid  int
	t    target
}

// compare measures the bare proxy, Gatehouse and (when it can be
// installed) oauth2-proxy in interleaved rounds, and prints one table.
func (l *lab) compare(ctx context.Context, o options) error {
	gen, err := pickGenerator(o.tool)
	if err != nil {
		return err
	}
	bareAddr := freeAddr()
	bare, err := l.start(ctx, l.self, []string{"bare", "-listen", bareAddr, "-upstream", l.upstream}, nil, nil)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+bareAddr+"/health", 10*time.Second); err != nil {
		return err
	}
	var extra []string
	if o.profile != "" {
		extra = []string{"--pprof"}
	}
	g, err := l.startGatehouse(ctx, "sqlite:"+filepath.Join(l.dir, "gatehouse.db"), extra...)
	if err != nil {
		return err
	}
	tok, err := g.login("admin", adminPassword)
	if err != nil {
		return err
	}
	path := "/api/v1/pipelines"
	// The bare proxy and Gatehouse get the same client traffic, token
	// included; the bare proxy passes it upstream, Gatehouse checks it and
	// strips it.
	auth := map[string]string{"Authorization": "Bearer " + tok}
	cs := []contender{
		{"bare", bare.Process.Pid, target{url: "http://" + bareAddr + path, header: auth}},
		{"gatehouse", g.cmd.Process.Pid, target{url: g.url + path, header: auth}},
	}
	note := "oauth2-proxy: not run (-oauth2-proxy=false)"
	if o.oauth2Proxy {
		switch bin, err := oauth2ProxyBinary(ctx); {
		case err != nil:
			note = fmt.Sprintf("oauth2-proxy %s: not run, it could not be installed (no network?): %v", oauth2ProxyVersion, err)
		default:
			op, err := l.startOAuth2Proxy(ctx, bin)
			if err != nil {
				return err
			}
			defer op.idp.Close()
			note = fmt.Sprintf("oauth2-proxy %s: OpenID Connect bearer tokens (RS256) verified on every request, user headers passed", oauth2ProxyVersion)
			cs = append(cs, contender{"oauth2-proxy", op.cmd.Process.Pid,
				target{url: op.url + path, header: map[string]string{"Authorization": "Bearer " + op.token}}})
		}
	}
	fmt.Printf("load: %s, %d connections, %d rounds of %s per proxy, interleaved; GET %s (%d-byte JSON)\n",
		gen.name(), o.conns, o.rounds, o.duration, path, len(upstreamBody))
	fmt.Println(note)
	memStart := map[string]mem{}
	for _, c := range cs {
		memStart[c.name] = memKB(c.pid)
	}
	// Warm each up (connections, caches, the token's verification).
	for _, c := range cs {
		x, err := gen.run(ctx, c.t, o.conns, time.Second)
		if err != nil {
			return fmt.Errorf("warm-up %s: %w", c.name, err)
		}
		if x.errors > 0 {
			return fmt.Errorf("warm-up %s: %d errors (refused or failed requests)", c.name, x.errors)
		}
	}
	gc0 := g.gcCPU()
	res := map[string][]result{}
	memLoad := map[string]mem{}
	cpu := map[string]time.Duration{}
	reqs := map[string]int64{}
	for r := 0; r < o.rounds; r++ {
		// Each proxy goes first in turn, so that none always follows the
		// same neighbour.
		for k := range cs {
			c := cs[(k+r)%len(cs)]
			cpu0 := cpuTime(c.pid)
			var profiled chan error
			if o.profile != "" && c.name == "gatehouse" && r == 0 {
				// A CPU profile of the first round, then what it allocated.
				profiled = make(chan error, 1)
				go func() {
					secs := max(int(o.duration.Seconds())-1, 1)
					profiled <- g.profile(fmt.Sprintf("profile?seconds=%d", secs), filepath.Join(o.profile, "cpu.pprof"))
				}()
			}
			x, err := gen.run(ctx, c.t, o.conns, o.duration)
			if profiled != nil {
				if perr := <-profiled; perr != nil {
					return perr
				}
				if perr := g.profile("allocs", filepath.Join(o.profile, "allocs.pprof")); perr != nil {
					return perr
				}
				fmt.Printf("  profiles of gatehouse's round 1: %s/cpu.pprof, %s/allocs.pprof (go tool pprof -top)\n", o.profile, o.profile)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			used := cpuTime(c.pid) - cpu0
			if r == o.rounds-1 {
				memLoad[c.name] = memKB(c.pid)
			}
			cpu[c.name] += used
			reqs[c.name] += x.requests
			res[c.name] = append(res[c.name], x)
			fmt.Printf("  round %d %-12s %9.0f req/s  p50 %s  p99 %s  errors %d  proxy CPU %.1f µs/req\n", r+1, c.name, x.rps, ms(x.p50), ms(x.p99), x.errors,
				float64(used.Microseconds())/float64(max(x.requests, 1)))
		}
	}
	gcPerReq := float64((g.gcCPU() - gc0).Microseconds()) / float64(max(reqs["gatehouse"], 1))
	fmt.Printf("  (idle for %s, then memory at rest)\n", restWait)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(restWait):
	}
	rows := [][]string{{"proxy", "req/s", "ratio to bare", "p50", "p99", "p99 added", "errors", "CPU/req", "RSS before", "RSS after load", "RSS at rest", "peak RSS"}}
	bareP99 := medianDur(p99s(res["bare"]))
	memRest := map[string]mem{}
	for _, c := range cs {
		var rps, ratios []float64
		var p50 []time.Duration
		var errs int64
		for i, x := range res[c.name] {
			rps, p50 = append(rps, x.rps), append(p50, x.p50)
			ratios = append(ratios, x.rps/res["bare"][i].rps)
			errs += x.errors
		}
		p99 := medianDur(p99s(res[c.name]))
		added := "—"
		if c.name != "bare" {
			added = fmt.Sprintf("%+.3f ms", float64((p99-bareP99).Microseconds())/1000)
		}
		rest := memKB(c.pid)
		memRest[c.name] = rest
		rows = append(rows, []string{c.name, fmt.Sprintf("%.0f", median(rps)), fmt.Sprintf("%.3f", median(ratios)),
			ms(medianDur(p50)), ms(p99), added, fmt.Sprint(errs),
			fmt.Sprintf("%.1f µs", float64(cpu[c.name].Microseconds())/float64(max(reqs[c.name], 1))),
			mib(memStart[c.name].rss), mib(memLoad[c.name].rss), mib(rest.rss), mib(rest.peak)})
	}
	fmt.Println()
	fmt.Print(table(rows))
	fmt.Println("\nreq/s, p50 and p99: medians over the rounds; ratio to bare: median of the rounds' ratios;")
	fmt.Println("CPU/req: the process's user+system CPU over all rounds / requests; RSS before: after start,")
	fmt.Printf("before any load; after load: right after its last round; at rest: %s after the run.\n", restWait)
	fmt.Printf("gatehouse's garbage collector: %.1f µs CPU per request (its runtime's own count)\n", gcPerReq)
	fmt.Println("resident set, anonymous (heap, stacks) + file-backed (the binary's pages):")
	for _, c := range cs {
		fmt.Printf("  %-12s before %s + %s, after load %s + %s, at rest %s + %s\n", c.name,
			mib(memStart[c.name].anon), mib(memStart[c.name].file), mib(memLoad[c.name].anon), mib(memLoad[c.name].file),
			mib(memRest[c.name].anon), mib(memRest[c.name].file))
	}
	for _, c := range cs[1:] {
		var ratios []float64
		for i, x := range res[c.name] {
			ratios = append(ratios, x.rps/res["bare"][i].rps)
		}
		fmt.Printf("throughput ratio %s/bare per round: %s\n", c.name, fmtRatios(ratios))
	}
	return nil
}

func p99s(rs []result) []time.Duration {
	out := make([]time.Duration, len(rs))
	for i, x := range rs {
		out[i] = x.p99
	}
	return out
}

func fmtRatios(rs []float64) string {
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%.3f", r)
	}
	return s
}

// attack floods Gatehouse with distinct random paths, then distinct
// garbage tokens, and reports its memory before and after each.
func (l *lab) attack(ctx context.Context, o options) error {
	g, err := l.startGatehouse(ctx, "sqlite:"+filepath.Join(l.dir, "gatehouse.db"))
	if err != nil {
		return err
	}
	tok, err := g.login("admin", adminPassword)
	if err != nil {
		return err
	}
	pid := g.cmd.Process.Pid
	gen := goLoad{}
	// Settle with ordinary traffic first.
	if _, err := gen.run(ctx, target{url: g.url + "/api/v1/pipelines", header: map[string]string{"Authorization": "Bearer " + tok}}, o.conns, 2*time.Second); err != nil {
		return err
	}
	rows := [][]string{{"flood", "requests", "RSS before", "RSS after", "growth", "peak RSS"}}
	floods := []struct {
		name string
		next func(i int64) (string, string)
	}{
		{"distinct random paths, valid token", func(i int64) (string, string) {
			return fmt.Sprintf("%s/api/v1/runs/%d/%x", g.url, i, rand.Uint64()), tok
		}},
		{"distinct random tokens", func(i int64) (string, string) {
			return g.url + "/api/v1/pipelines", garbageToken()
		}},
	}
	for _, f := range floods {
		before, _ := rssKB(pid)
		var sent int64
		for sent < int64(o.requests) {
			r, err := gen.run(ctx, target{next: f.next}, o.conns, 5*time.Second)
			if err != nil {
				return err
			}
			sent += r.requests
			fmt.Printf("  %s: %d requests so far\n", f.name, sent)
		}
		after, peak := rssKB(pid)
		rows = append(rows, []string{f.name, fmt.Sprint(sent), mib(before), mib(after), mib(after - before), mib(peak)})
	}
	fmt.Println()
	fmt.Print(table(rows))
	return nil
}

// garbageToken looks like a JWT and verifies as none.
func garbageToken() string {
	b := make([]byte, 96)
	_, _ = crand.Read(b)
	e := base64.RawURLEncoding
	return "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + e.EncodeToString(b[:64]) + "." + e.EncodeToString(b[64:])
}
