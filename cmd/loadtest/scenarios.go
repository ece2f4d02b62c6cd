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

// compare measures the bare proxy and Gatehouse in interleaved rounds.
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
	g, err := l.startGatehouse(ctx, "sqlite:"+filepath.Join(l.dir, "gatehouse.db"))
	if err != nil {
		return err
	}
	tok, err := g.login("admin", adminPassword)
	if err != nil {
		return err
	}
	path := "/api/v1/pipelines"
	// Both proxies get the same client traffic, token included; the bare
	// proxy passes it upstream, Gatehouse checks it and strips it.
	auth := map[string]string{"Authorization": "Bearer " + tok}
	targets := map[string]target{
		"bare":      {url: "http://" + bareAddr + path, header: auth},
		"gatehouse": {url: g.url + path, header: auth},
	}
	fmt.Printf("load: %s, %d connections, %d rounds of %s per proxy, interleaved; GET %s (%d-byte JSON)\n",
		gen.name(), o.conns, o.rounds, o.duration, path, len(upstreamBody))
	// Warm both up (connections, caches, the token's verification).
	for _, name := range []string{"bare", "gatehouse"} {
		if _, err := gen.run(ctx, targets[name], o.conns, time.Second); err != nil {
			return fmt.Errorf("warm-up %s: %w", name, err)
		}
	}
	pids := map[string]int{"bare": bare.Process.Pid, "gatehouse": g.cmd.Process.Pid}
	res := map[string][]result{}
	cpuPerReq := map[string][]float64{}
	for r := 0; r < o.rounds; r++ {
		order := []string{"bare", "gatehouse"}
		if r%2 == 1 {
			order = []string{"gatehouse", "bare"}
		}
		for _, name := range order {
			cpu0 := cpuTime(pids[name])
			x, err := gen.run(ctx, targets[name], o.conns, o.duration)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			us := float64((cpuTime(pids[name]) - cpu0).Microseconds()) / float64(max(x.requests, 1))
			res[name] = append(res[name], x)
			cpuPerReq[name] = append(cpuPerReq[name], us)
			fmt.Printf("  round %d %-9s %9.0f req/s  p50 %s  p99 %s  errors %d  proxy CPU %.1f µs/req\n", r+1, name, x.rps, ms(x.p50), ms(x.p99), x.errors, us)
		}
	}
	ratios := make([]float64, o.rounds)
	for i := range ratios {
		ratios[i] = res["gatehouse"][i].rps / res["bare"][i].rps
	}
	rows := [][]string{{"proxy", "req/s (median)", "p50", "p99", "errors", "proxy CPU/req", "RSS"}}
	for _, name := range []string{"bare", "gatehouse"} {
		var rps []float64
		var p50, p99 []time.Duration
		var errs int64
		for _, x := range res[name] {
			rps, p50, p99 = append(rps, x.rps), append(p50, x.p50), append(p99, x.p99)
			errs += x.errors
		}
		pid := bare.Process.Pid
		if name == "gatehouse" {
			pid = g.cmd.Process.Pid
		}
		rss, _ := rssKB(pid)
		rows = append(rows, []string{name, fmt.Sprintf("%.0f", median(rps)), ms(medianDur(p50)), ms(medianDur(p99)), fmt.Sprint(errs),
			fmt.Sprintf("%.1f µs", median(cpuPerReq[name])), mib(rss)})
	}
	fmt.Println()
	fmt.Print(table(rows))
	fmt.Printf("\nthroughput ratio gatehouse/bare: median %.3f (per round %s)\n", median(ratios), fmtRatios(ratios))
	return nil
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
