package main

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// gcHeadroom is the memory the collector may use above the live heap
// before it runs. With the default GOGC=100 a small live heap (a few MiB of
// libraries and caches) makes the collector run, and re-mark it, every few
// MiB of allocation; a large headroom makes the heap, and the resident
// set, grow by as much under load. The percentage is sized to keep this
// much headroom, between 100% and 800%: for the usual live heap of a
// sidecar (5–8 MiB) about 300%, so that a collection comes every 16 MiB of
// allocation (a few per second at full load) and the heap stays near
// 25 MiB. A large store's live heap gets GOGC=100.
const gcHeadroom = 16 << 20

// releaseAtLeast is the heap memory above the live heap (see releasable)
// that makes a release at rest worth its full collection: light traffic
// that goes idle and busy again leaves little and costs no release.
const releaseAtLeast = 8 << 20

// idleAlloc is what the process may allocate within one check of the
// tuner and still count as idle: health probes and metrics scrapes.
const idleAlloc = 1 << 20

// gcSettings are the operator's collector settings, from the environment.
type gcSettings struct {
	gogc       string // $GOGC: set, the percentage is not sized
	gomemlimit string // $GOMEMLIMIT: set, the cgroup's limit is not read
}

// setMemoryLimit gives the runtime a soft memory limit of memLimitShare of
// the container's (cgroup's) memory limit, so that the collector works
// harder near the limit instead of the process being killed. An operator's
// GOMEMLIMIT wins; without a cgroup limit nothing changes.
func setMemoryLimit(gc gcSettings, log *slog.Logger) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return
	}
	switch soft, limit := memoryLimit(gc.gomemlimit, "/sys/fs/cgroup", self); {
	case soft > 0:
		debug.SetMemoryLimit(soft)
		log.Info("memory limit set from the container's", "gomemlimit_bytes", soft, "container_limit_bytes", limit)
	case limit > 0:
		log.Warn("the container's memory limit is too small for a soft limit below it; set GOMEMLIMIT or raise the limit",
			"container_limit_bytes", limit, "least_bytes", memLimitFloor+memLimitReserve)
	}
}

// tuneGC runs until ctx ends, checking the heap every interval; serve runs
// it once the listeners are bound. It keeps
// the collector's headroom near gcHeadroom, re-sizing GOGC to the live
// heap; an operator's GOGC wins (the percentage is left alone). And when
// the process goes idle after allocating (a burst of load ended), it
// returns the heap's free memory to the system at once rather than over
// the minutes the runtime's background scavenger takes, so a sidecar at
// rest holds little more than its live heap and the code it runs.
func tuneGC(ctx context.Context, gc gcSettings, log *slog.Logger, every time.Duration) {
	// Loading a large store leaves its scratch memory behind: it goes back
	// first, while the listeners already serve (it takes a full
	// collection).
	debug.FreeOSMemory()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/allocs:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(sample)
	last := 0
	allocated := sample[1].Value.Uint64() // counted from here: start-up is no load
	busy := false
	for {
		metrics.Read(sample)
		if live := sample[0].Value.Uint64(); live > 0 && gc.gogc == "" {
			pct := gcPercent(live)
			if pct != last {
				debug.SetGCPercent(pct)
				log.Debug("gc percent sized to the live heap", "live_bytes", live, "gogc", pct)
				last = pct
			}
		}
		now := sample[1].Value.Uint64()
		var release bool
		if release, busy = wentIdle(now-allocated, busy); release && releasable(sample) >= releaseAtLeast {
			debug.FreeOSMemory()
			log.Debug("idle after load: free heap memory returned to the system")
		}
		allocated = now
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// releasable is the heap memory the process holds above its live heap:
// garbage not yet collected, and free and unused spans not yet returned
// (sample as tuneGC reads it).
func releasable(sample []metrics.Sample) uint64 {
	live := sample[0].Value.Uint64()
	held := sample[2].Value.Uint64() + sample[3].Value.Uint64() + sample[4].Value.Uint64()
	if held < live {
		return 0
	}
	return held - live
}

// wentIdle reports, from the bytes allocated since the last check and
// whether the process was busy then, whether it has just gone idle (the
// moment to release memory, once per burst of load) and whether it is busy
// now.
func wentIdle(allocated uint64, wasBusy bool) (release, busy bool) {
	if allocated >= idleAlloc {
		return false, true
	}
	return wasBusy, false
}

// gcPercent is the GOGC that gives a live heap of live bytes gcHeadroom to
// grow, within [100, 800].
func gcPercent(live uint64) int {
	return int(min(max(gcHeadroom*100/live, 100), 800))
}
