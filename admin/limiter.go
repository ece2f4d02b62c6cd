package admin

import (
	"sync"
	"time"
)

// limiter counts failed attempts per key in fixed windows. It is bounded:
// when full, the oldest windows are dropped first.
type limiter struct {
	limit  int
	window time.Duration
	max    int

	mu sync.Mutex // guards m
	m  map[string]*attempts
}

type attempts struct {
	start time.Time
	n     int
}

func newLimiter(limit int, window time.Duration, max int) *limiter {
	return &limiter{limit: limit, window: window, max: max, m: map[string]*attempts{}}
}

// check returns how long key must wait, or 0 if it may try now.
func (l *limiter) check(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.m[key]
	if a == nil || now.Sub(a.start) >= l.window {
		return 0
	}
	if a.n >= l.limit {
		return a.start.Add(l.window).Sub(now)
	}
	return 0
}

// attempt counts an attempt for key unless key must wait, atomically: the
// number of attempts in flight can never exceed the limit. It returns how
// long key must wait (then nothing is counted), or 0.
func (l *limiter) attempt(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.current(key, now)
	if a.n >= l.limit {
		return a.start.Add(l.window).Sub(now)
	}
	a.n++
	return 0
}

// refund takes back one attempt of key, after a success.
func (l *limiter) refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a := l.m[key]; a != nil && a.n > 0 {
		a.n--
	}
}

// fail records a failed attempt.
func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.current(key, now).n++
}

// current returns key's window at now, starting a new one when there is
// none or the last has passed. Callers hold mu.
func (l *limiter) current(key string, now time.Time) *attempts {
	a := l.m[key]
	if a == nil || now.Sub(a.start) >= l.window {
		if a == nil && len(l.m) >= l.max {
			l.evict(now)
		}
		a = &attempts{start: now}
		l.m[key] = a
	}
	return a
}

// reset forgets key, after a success.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.m, key)
	l.mu.Unlock()
}

// evict drops expired windows, and if none expired, an arbitrary one.
// Callers hold mu.
func (l *limiter) evict(now time.Time) {
	for k, a := range l.m {
		if now.Sub(a.start) >= l.window {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < l.max {
			break
		}
		delete(l.m, k)
	}
}

// limitKey is a key of a limiter.
type limitKey struct {
	l   *limiter
	key string
}

// attemptAll counts an attempt for every key, or for none: when a key must
// wait, the attempts already counted are taken back and its wait is
// returned.
func attemptAll(now time.Time, keys ...limitKey) time.Duration {
	for i, k := range keys {
		if wait := k.l.attempt(k.key, now); wait > 0 {
			for _, done := range keys[:i] {
				done.l.refund(done.key)
			}
			return wait
		}
	}
	return 0
}
