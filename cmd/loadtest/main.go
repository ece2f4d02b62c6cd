// Command loadtest measures what Gatehouse adds to every request. It starts
// an upstream, a tuned bare httputil.ReverseProxy, `gatehouse serve` and
// oauth2-proxy (with an OpenID Connect provider in this process) on
// loopback, each a process of its own, drives the proxies in interleaved
// rounds with wrk (when installed) or a Go load generator, and prints one
// table: throughput and its ratio to the bare proxy, latency percentiles,
// errors, CPU per request and memory before, after and at rest.
//
//	go run ./cmd/loadtest                     # the proxy comparison
//	go run ./cmd/loadtest -users 100000       # start time and memory with 100 000 users
//	go run ./cmd/loadtest -attack             # memory under random paths and tokens
//	go run ./cmd/loadtest -restarts 10        # restart time on an existing store
//
// It also runs its own helper processes: `loadtest upstream` and
// `loadtest bare`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type options struct {
	duration    time.Duration
	rounds      int
	conns       int
	tool        string
	users       int
	attack      bool
	requests    int
	oauth2Proxy bool
	profile     string
	gatehouse   string
	restarts    int
}

func run(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "upstream":
			return serveUpstream(ctx, args[1:])
		case "bare":
			return serveBare(ctx, args[1:])
		}
	}
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of one measurement")
	fs.IntVar(&o.rounds, "rounds", 5, "interleaved rounds per proxy")
	fs.IntVar(&o.conns, "conns", 32, "concurrent connections")
	fs.StringVar(&o.tool, "tool", "auto", "load generator: wrk, go or auto (wrk when installed)")
	fs.IntVar(&o.users, "users", 0, "seed this many users (three roles each) and report start time and memory")
	fs.BoolVar(&o.attack, "attack", false, "measure memory under floods of random paths and random tokens")
	fs.IntVar(&o.requests, "requests", 1_000_000, "requests per flood with -attack")
	fs.BoolVar(&o.oauth2Proxy, "oauth2-proxy", true, "also measure oauth2-proxy "+oauth2ProxyVersion+" (installed with go install on first use, then cached)")
	fs.StringVar(&o.profile, "profile", "", "save a CPU and an allocation profile of Gatehouse's first round into this directory")
	fs.StringVar(&o.gatehouse, "gatehouse", "", "a gatehouse binary to measure instead of building ./cmd/gatehouse (to compare two versions)")
	fs.IntVar(&o.restarts, "restarts", 0, "time this many restarts of Gatehouse on an existing store (exec to /readyz)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	lab, err := newLab(ctx, o.gatehouse)
	if err != nil {
		return err
	}
	defer lab.close()
	fmt.Printf("machine: %s\n", machine())
	switch {
	case o.users > 0:
		return lab.scale(ctx, o)
	case o.attack:
		return lab.attack(ctx, o)
	case o.restarts > 0:
		return lab.restarts(ctx, o.restarts)
	}
	return lab.compare(ctx, o)
}
