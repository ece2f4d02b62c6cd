package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"
)

func TestTuneGCSizesThePercentOrLeavesGOGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		tuneGC(ctx, gcSettings{}, slog.New(slog.DiscardHandler), time.Hour)
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
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	tuneGC(ctx, gcSettings{gogc: "123"}, slog.New(slog.DiscardHandler), time.Hour)
	if got := debug.SetGCPercent(100); got != 123 {
		t.Fatalf("GC percent = %d after an operator's GOGC, want 123", got)
	}
}

func TestGCPercentKeepsTheHeadroom(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{1 << 20, 800},          // capped
		{4 << 20, 400},          // 16 MiB over 4 MiB live
		{8 << 20, 200},          // 16 MiB over 8 MiB live
		{64 << 20, 100},         // a large store: the default
		{math.MaxUint32, 100},   // never below the default
		{gcHeadroom * 100, 100}, // nor zero
	} {
		if got := gcPercent(c.live); got != c.want {
			t.Errorf("gcPercent(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}

func TestWentIdleReleasesOncePerBurst(t *testing.T) {
	busy := false
	for i, c := range []struct {
		allocated             uint64
		wantRelease, wantBusy bool
	}{
		{100 << 10, false, false},    // probes and scrapes: idle, nothing to give back
		{50 << 20, false, true},      // load
		{30 << 20, false, true},      // still load
		{200 << 10, true, false},     // the load ended: release
		{200 << 10, false, false},    // still idle: released already
		{idleAlloc, false, true},     // load again
		{idleAlloc - 1, true, false}, // and its end
	} {
		var release bool
		release, busy = wentIdle(c.allocated, busy)
		if release != c.wantRelease || busy != c.wantBusy {
			t.Fatalf("check %d (%d bytes allocated): release %v, busy %v; want %v, %v", i, c.allocated, release, busy, c.wantRelease, c.wantBusy)
		}
	}
}

// cgroupFS writes files under a temporary cgroup mount and returns it.
func cgroupFS(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCgroupMemoryLimit(t *testing.T) {
	const v2Self = "0::/kubepods/pod1/c1\n"
	const v1Self = "12:cpu,cpuacct:/kubepods/pod1/c1\n4:memory:/kubepods/pod1/c1\n0::/\n"
	for _, c := range []struct {
		name   string
		files  map[string]string
		self   string
		want   int64
		wantOK bool
	}{
		{"v2 at the cgroup's path", map[string]string{"kubepods/pod1/c1/memory.max": "268435456\n"}, v2Self, 256 << 20, true},
		{"v2 in its own namespace", map[string]string{"memory.max": "134217728\n"}, "0::/\n", 128 << 20, true},
		{"v2 path missing, root read", map[string]string{"memory.max": "134217728\n"}, v2Self, 128 << 20, true},
		{"v2 max", map[string]string{"memory.max": "max\n"}, "0::/\n", 0, false},
		{"v2 garbage", map[string]string{"memory.max": "lots\n"}, "0::/\n", 0, false},
		{"v1 at the cgroup's path", map[string]string{"memory/kubepods/pod1/c1/memory.limit_in_bytes": "536870912\n"}, v1Self, 512 << 20, true},
		{"v1 in its own namespace", map[string]string{"memory/memory.limit_in_bytes": "536870912\n"}, "4:memory:/\n", 512 << 20, true},
		{"v1 unlimited", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, "4:memory:/\n", 0, false},
		{"v1 beats a hybrid's v2 line", map[string]string{
			"memory/memory.limit_in_bytes": "536870912\n", "memory.max": "134217728\n"}, "4:memory:/\n0::/\n", 512 << 20, true},
		{"no files", nil, v2Self, 0, false},
		{"no cgroup lines", map[string]string{"memory.max": "134217728\n"}, "", 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := cgroupFS(t, c.files)
			got, ok := cgroupMemoryLimit(root, []byte(c.self))
			if ok != c.wantOK || (ok && got != c.want) {
				t.Fatalf("cgroupMemoryLimit = %d, %v; want %d, %v", got, ok, c.want, c.wantOK)
			}
		})
	}
}

func TestMemoryLimitIsNinetyPercentUnlessGOMEMLIMIT(t *testing.T) {
	self := []byte("0::/\n")
	for _, c := range []struct {
		limit, want int64
	}{
		{1 << 30, (1 << 30) * 9 / 10},          // 10% is more than the reserve
		{256 << 20, 256<<20 - memLimitReserve}, // the reserve is more than 10%
		{80 << 20, 48 << 20},                   // just the floor
		{64 << 20, 0},                          // under the floor: none
	} {
		root := cgroupFS(t, map[string]string{"memory.max": fmt.Sprintf("%d\n", c.limit)})
		got, limit := memoryLimit("", root, self)
		if d := got - c.want; d < -1 || d > 1 || limit != c.limit {
			t.Errorf("memoryLimit under a %d MiB limit = %d, %d; want %d, %d", c.limit>>20, got, limit, c.want, c.limit)
		}
	}
	root := cgroupFS(t, map[string]string{"memory.max": "268435456\n"})
	// The operator's GOMEMLIMIT wins: no limit is set from the cgroup.
	if got, _ := memoryLimit("100MiB", root, self); got != 0 {
		t.Fatalf("memoryLimit with GOMEMLIMIT set = %d, want 0 (left to the runtime)", got)
	}
	// No limit: none set.
	if got, _ := memoryLimit("", cgroupFS(t, map[string]string{"memory.max": "max"}), self); got != 0 {
		t.Fatalf("memoryLimit without a cgroup limit = %d, want 0", got)
	}
}

func TestSetMemoryLimitLeavesAnOperatorsGOMEMLIMIT(t *testing.T) {
	const operator = 123 << 20
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(operator))
	setMemoryLimit(gcSettings{gomemlimit: "123MiB"}, slog.New(slog.DiscardHandler))
	if got := debug.SetMemoryLimit(-1); got != operator {
		t.Fatalf("memory limit = %d after setMemoryLimit with GOMEMLIMIT set, want the operator's %d", got, operator)
	}
}
