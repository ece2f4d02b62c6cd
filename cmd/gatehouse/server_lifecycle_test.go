package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// backgroundPieces are the long-lived pieces run starts besides the two
// listeners, by the function each runs in.
var backgroundPieces = []string{
	"github.com/gatehouse-dev/gatehouse/admin.(*Service).Run",    // periodic reload and pruning
	"github.com/gatehouse-dev/gatehouse/admin.(*Service).listen", // the PostgreSQL change listener
	"github.com/gatehouse-dev/gatehouse/policy.(*Watcher).Run",   // --policy-dir
	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse.tuneGC",
}

// TestRunStopsBackgroundWorkFirst: when run returns, every long-lived
// piece it started has returned too. run closes the store last, so none of
// them can use it closed (a replication sync on a closed pool), and a
// stopped server leaves no goroutine behind.
func TestRunStopsBackgroundWorkFirst(t *testing.T) {
	for _, st := range storetest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			x := runLabelled(t, st.DSN)
			x.cancel()
			if err := <-x.done; err != nil {
				t.Fatal(err)
			}
			if left := runningPieces(t, t.Name()); len(left) > 0 {
				t.Errorf("run returned, and closed the store, with %v still running", left)
			}
		})
	}
}

// TestRunStopsOnAFailedListener: a listener that fails stops the whole
// server, and run returns its error.
func TestRunStopsOnAFailedListener(t *testing.T) {
	x := runLabelled(t, storetest.SQLite(t).DSN)
	x.s.opsLn.Close()
	select {
	case err := <-x.done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("run: %v, want the listener's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a failed listener did not stop the server")
	}
	if left := runningPieces(t, t.Name()); len(left) > 0 {
		t.Errorf("run returned with %v still running", left)
	}
	if logs := x.logs.String(); !strings.Contains(logs, `"msg":"listener failed"`) || strings.Contains(logs, "shutting down") {
		t.Errorf("the log does not say that the listener failed, or says the server was told to stop:\n%s", logs)
	}
}

// labelledRun is a server whose run goroutine, and every goroutine it
// starts, carries the label run=<test name>, which tells them from other
// tests' goroutines.
type labelledRun struct {
	s      *server
	cancel context.CancelFunc
	done   chan error // run's result
	logs   *testkit.LockedBuffer
}

// runLabelled runs a server with --policy-dir on the store dsn, and waits
// until every background piece runs.
func runLabelled(t *testing.T, dsn string) *labelledRun {
	t.Helper()
	o := defaultServeOptions()
	o.listen, o.opsListen, o.upstream, o.db = "127.0.0.1:0", "127.0.0.1:0", "http://127.0.0.1:9", dsn
	o.policyDir = policyTree(t, map[string]string{"policy.csv": goodPolicy})
	o.shutdownGrace = time.Second
	// Reloading all the time keeps the replication loop at work on the
	// store when run is told to stop.
	o.reloadInterval = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	x := &labelledRun{cancel: cancel, done: make(chan error, 1), logs: &testkit.LockedBuffer{}}
	log, audit := newLogger(x.logs, slog.LevelInfo)
	var err error
	if x.s, err = newServer(ctx, testConfig(t, o, "correct-horse-battery"), log, audit); err != nil {
		t.Fatal(err)
	}
	go pprof.Do(ctx, pprof.Labels("run", t.Name()), func(ctx context.Context) { x.done <- x.s.run(ctx) })
	want := backgroundPieces[:0:0]
	for _, p := range backgroundPieces {
		if !strings.HasSuffix(p, ".listen") || store.IsPostgres(x.s.db) {
			want = append(want, p)
		}
	}
	for start := time.Now(); !slices.Equal(runningPieces(t, t.Name()), want); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("running: %v, want %v", runningPieces(t, t.Name()), want)
		}
	}
	return x
}

// runningPieces returns the backgroundPieces running in goroutines
// labelled run=label, in the order of backgroundPieces.
func runningPieces(t *testing.T, label string) []string {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	// Records are separated by blank lines; each names its labels, then
	// its frames, one a line: "#\tPC\tFUNCTION+OFFSET\tFILE:LINE".
	var ours []string
	for _, rec := range strings.Split(b.String(), "\n\n") {
		if strings.Contains(rec, `"run":"`+label+`"`) {
			ours = append(ours, rec)
		}
	}
	var found []string
	for _, p := range backgroundPieces {
		if slices.ContainsFunc(ours, func(rec string) bool { return strings.Contains(rec, "\t"+p+"+") }) {
			found = append(found, p)
		}
	}
	return found
}
