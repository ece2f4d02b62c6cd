package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
)

const seedPassword = "loadtest-user-password"

// scale seeds a store with many users, then measures Gatehouse's start
// (exec to /readyz), its memory, and its throughput with their tokens
// against the bare proxy.
func (l *lab) scale(ctx context.Context, o options) error {
	dsn := "sqlite:" + filepath.Join(l.dir, "gatehouse.db")
	g, err := l.startGatehouse(ctx, dsn)
	if err != nil {
		return err
	}
	adminTok, err := g.login("admin", adminPassword)
	if err != nil {
		return err
	}
	// A user made through the API gives the password hash every seeded
	// user shares.
	body, _ := json.Marshal(map[string]any{"username": "template", "password": seedPassword})
	req, _ := http.NewRequest("POST", g.url+"/gatehouse/v1/users", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminTok)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusCreated {
		return fmt.Errorf("creating the template user: %v %v", err, res)
	}
	res.Body.Close()
	l.stop(g.cmd)

	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	t0 := time.Now()
	lines, err := seed(db, o.users)
	if err != nil {
		return err
	}
	sqlDB, _ := db.DB()
	sqlDB.Close()
	fmt.Printf("seeded %d users and %d role assignments in %s\n", o.users, lines, time.Since(t0).Round(time.Millisecond))

	g, err = l.startGatehouse(ctx, dsn)
	if err != nil {
		return err
	}
	rss, _ := rssKB(g.cmd.Process.Pid)
	// Gatehouse returns the store's scratch memory once it serves.
	time.Sleep(2 * time.Second)
	settled, peak := rssKB(g.cmd.Process.Pid)
	fmt.Printf("\n%s\n", table([][]string{
		{"users", "role assignments", "start to ready", "RSS when ready", "RSS 2 s later", "peak RSS"},
		{fmt.Sprint(o.users), fmt.Sprint(lines), g.startedIn.Round(time.Millisecond).String(), mib(rss), mib(settled), mib(peak)},
	}))
	var toks []string
	for i := 0; i < 50; i++ {
		tok, err := g.login(storetest.SeedUsername(rand.IntN(o.users)), seedPassword)
		if err != nil {
			return err
		}
		toks = append(toks, tok)
	}
	gen := goLoad{}
	path := "/api/v1/pipelines"
	var bareRPS, ghRPS []float64
	bareAddr := freeAddr()
	if _, err := l.start(ctx, l.self, []string{"bare", "-listen", bareAddr, "-upstream", l.upstream}, nil, nil); err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+bareAddr+"/health", 10*time.Second); err != nil {
		return err
	}
	ghTarget := target{next: func(i int64) (string, string) { return g.url + path, toks[i%int64(len(toks))] }}
	for r := 0; r < o.rounds; r++ {
		b, err := gen.run(ctx, target{url: "http://" + bareAddr + path}, o.conns, o.duration)
		if err != nil {
			return err
		}
		x, err := gen.run(ctx, ghTarget, o.conns, o.duration)
		if err != nil {
			return err
		}
		bareRPS, ghRPS = append(bareRPS, b.rps), append(ghRPS, x.rps)
		fmt.Printf("  round %d  bare %8.0f req/s  gatehouse (%d users' tokens) %8.0f req/s  p99 %s  errors %d\n", r+1, b.rps, len(toks), x.rps, ms(x.p99), x.errors)
	}
	rss, _ = rssKB(g.cmd.Process.Pid)
	fmt.Printf("\nwith %d users: throughput ratio gatehouse/bare median %.3f; RSS after load %s\n", o.users, median(ghRPS)/median(bareRPS), mib(rss))
	return nil
}

// seed writes n users with three roles each (storetest.SeedUsers), all
// with the template user's password, and returns the number of
// assignments.
func seed(db *gorm.DB, n int) (int, error) {
	var tmpl store.User
	if err := db.Where("username = ?", "template").Take(&tmpl).Error; err != nil {
		return 0, err
	}
	return storetest.SeedUsers(db, n, tmpl.PasswordHash)
}

// restarts measures Gatehouse's restart on an existing store: a first
// start creates the store (and its first admin), then each of n restarts
// is timed from exec to /readyz answering 200, polled every 2 ms.
func (l *lab) restarts(ctx context.Context, n int) error {
	dsn := "sqlite:" + filepath.Join(l.dir, "gatehouse.db")
	g, err := l.startGatehouse(ctx, dsn)
	if err != nil {
		return err
	}
	if _, err := g.login("admin", adminPassword); err != nil {
		return err
	}
	l.stop(g.cmd)
	var times []time.Duration
	for i := 0; i < n; i++ {
		data, ops := freeAddr(), freeAddr()
		logs := &syncBuffer{}
		start := time.Now()
		cmd, err := l.start(ctx, l.gatehouse, []string{"serve", "--listen", data, "--ops-listen", ops,
			"--upstream", l.upstream, "--db", dsn, "--log-level", "error"}, nil, logs)
		if err != nil {
			return err
		}
		for {
			res, err := http.Get("http://" + ops + "/readyz")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					break
				}
			}
			if time.Since(start) > 30*time.Second {
				return fmt.Errorf("gatehouse did not become ready: %v\n%s", err, logs.String())
			}
			time.Sleep(2 * time.Millisecond)
		}
		times = append(times, time.Since(start))
		rss, _ := rssKB(cmd.Process.Pid)
		fmt.Printf("  restart %d: ready in %s, RSS %s\n", i+1, times[i].Round(100*time.Microsecond), mib(rss))
		l.stop(cmd)
	}
	slices.Sort(times)
	fmt.Printf("\nrestart on an existing store (SQLite, default policy), exec to /readyz: min %s, median %s, max %s over %d restarts\n",
		times[0].Round(100*time.Microsecond), times[len(times)/2].Round(100*time.Microsecond), times[len(times)-1].Round(100*time.Microsecond), n)
	return nil
}
