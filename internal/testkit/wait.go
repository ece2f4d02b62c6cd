package testkit

import (
	"testing"
	"time"
)

// WaitFor polls cond every 2 ms until it holds and returns how long that
// took; it fails the test, naming what, when within passes first. The short
// interval keeps the returned duration close to the real latency, which
// the replication tests report.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}
