package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"testing"
	"time"
)

func TestTuneGCSizesThePercentOrLeavesGOGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		tuneGC(ctx, "", slog.New(slog.DiscardHandler), time.Hour)
		close(done)
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	// A test binary's live heap is a few MiB: the percent goes up, capped.
	if got := debug.SetGCPercent(100); got <= 100 || got > 800 {
		t.Fatalf("GC percent = %d, want in (100, 800]", got)
	}
	// With GOGC set by the operator, nothing changes.
	debug.SetGCPercent(123)
	tuneGC(context.Background(), "123", slog.New(slog.DiscardHandler), time.Hour)
	if got := debug.SetGCPercent(100); got != 123 {
		t.Fatalf("GC percent = %d after an operator's GOGC, want 123", got)
	}
}
