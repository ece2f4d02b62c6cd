package admin

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// maxConcurrentHashes bounds argon2id work in flight: each hash takes 19 MiB
// and tens of milliseconds, so unbounded logins or sign-ups could exhaust
// the pod's memory.
const maxConcurrentHashes = 4

// defaultHashWait is how long a password check waits for a slot before
// the request is refused as unavailable.
const defaultHashWait = 5 * time.Second

// withHashSlot runs fn while holding one of maxConcurrentHashes slots. The
// slots are shared fairly between clients: a client (the address of the
// request in ctx) runs one hash at a time and queues the rest behind its
// own, so one client sending many logins at once holds one slot, not all
// of them, and everyone else's logins go on.
func (s *Service) withHashSlot(ctx context.Context, fn func()) error {
	t := time.NewTimer(s.hashWait)
	defer t.Stop()
	release, err := s.hashTurns.take(ctx, requestFrom(ctx).client, t.C)
	if err != nil {
		return err
	}
	defer release()
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errHashBusy
	}
	defer func() {
		<-s.hashSlots
		if len(s.hashSlots) == 0 {
			s.collectAfterHashes()
		}
	}()
	fn()
	return nil
}

// smallHeap is the live heap below which a collection after the last
// password check is worth its cost (a few milliseconds of CPU there; a
// large store's heap makes one cost more than the check, and its GOGC
// already absorbs a hash's 19 MiB).
const smallHeap = 48 << 20

// collectAfterHashes has the collector run a second after the last
// password check in flight, at most one pending at a time. The hashes'
// memory (19 MiB each) is garbage then, but a collection that ran while
// they were live measured the live heap with them, and the next one is due
// only when the heap has grown by GOGC percent of that: several times the
// memory of a sidecar at rest. A collection measures it again without
// them. Logins (each one a hash, unknown users' too) cannot make it run
// more than once a second.
func (s *Service) collectAfterHashes() {
	if !s.gcPending.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(time.Second, func() {
		defer s.gcPending.Store(false)
		live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(live)
		if live[0].Value.Kind() == metrics.KindUint64 && live[0].Value.Uint64() < smallHeap {
			runtime.GC()
		}
	})
}

var errHashBusy = fmt.Errorf("%w: too many password checks in progress; try again", ErrUnavailable)

// turns gives each key one turn at a time.
type turns struct {
	mu sync.Mutex       // guards m
	m  map[string]*turn // the keys with a turn taken or waited for
}

type turn struct {
	ch   chan struct{} // holds a token while the turn is taken
	refs int           // holders and waiters; the entry goes at 0
}

func newTurns() *turns { return &turns{m: map[string]*turn{}} }

// take waits for key's turn until ctx ends or timeout fires, and returns
// the function that ends the turn.
func (ts *turns) take(ctx context.Context, key string, timeout <-chan time.Time) (func(), error) {
	ts.mu.Lock()
	t := ts.m[key]
	if t == nil {
		t = &turn{ch: make(chan struct{}, 1)}
		ts.m[key] = t
	}
	t.refs++
	ts.mu.Unlock()
	leave := func() {
		ts.mu.Lock()
		if t.refs--; t.refs == 0 {
			delete(ts.m, key)
		}
		ts.mu.Unlock()
	}
	select {
	case t.ch <- struct{}{}:
		return func() { <-t.ch; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	case <-timeout:
		leave()
		return nil, errHashBusy
	}
}

// hash hashes a new password within the concurrency bound.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	var h string
	var err error
	if serr := s.withHashSlot(ctx, func() { h, err = hashPassword(password) }); serr != nil {
		return "", serr
	}
	return h, err
}

// check checks a password within the concurrency bound.
func (s *Service) check(ctx context.Context, hash, password string) (bool, error) {
	var ok bool
	var err error
	if serr := s.withHashSlot(ctx, func() { ok, err = checkPassword(hash, password) }); serr != nil {
		return false, serr
	}
	return ok, err
}
