package admin

import (
	"context"
	"fmt"
	"time"
)

// maxConcurrentHashes bounds argon2id work in flight: each hash takes 19 MiB
// and tens of milliseconds, so unbounded logins or sign-ups could exhaust
// the pod's memory.
const maxConcurrentHashes = 4

// defaultHashWait is how long a password check waits for a slot before
// the request is refused as unavailable.
const defaultHashWait = 5 * time.Second

// withHashSlot runs fn while holding one of maxConcurrentHashes slots.
func (s *Service) withHashSlot(ctx context.Context, fn func()) error {
	t := time.NewTimer(s.hashWait)
	defer t.Stop()
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("%w: too many password checks in progress; try again", ErrUnavailable)
	}
	defer func() { <-s.hashSlots }()
	fn()
	return nil
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
