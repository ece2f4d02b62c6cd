package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// gcHeadroom is the memory the collector may use above the live heap
// before it runs. With the default GOGC=100 a small live heap (a few MiB of
// libraries and caches) makes the collector run, and re-mark it, every few
// MiB of allocation: on the request path that was the largest cost
// Gatehouse added to a bare reverse proxy. A fixed larger GOGC would
// multiply the memory of a large store instead, so the percentage is sized
// to keep this much headroom, between 100% and 800%.
const gcHeadroom = 64 << 20

// tuneGC keeps the collector's headroom near gcHeadroom until ctx ends,
// re-sizing after each check of the live heap. An operator's GOGC wins:
// with gogc (the variable's value) set, tuneGC does nothing.
func tuneGC(ctx context.Context, gogc string, log *slog.Logger, every time.Duration) {
	if gogc != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	last := 0
	for {
		metrics.Read(sample)
		if live := sample[0].Value.Uint64(); live > 0 {
			pct := min(max(int(gcHeadroom*100/live), 100), 800)
			if pct != last {
				debug.SetGCPercent(pct)
				log.Debug("gc percent sized to the live heap", "live_bytes", live, "gogc", pct)
				last = pct
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
