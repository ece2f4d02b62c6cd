package admin

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
)

// TestConcurrentGuessesStayWithinTheLimit: wrong logins sent at once for
// one user and client are counted when they start, so no more than the
// limit ever reach a password check.
//
// Nothing here depends on timing: the clock stands still (no window ends),
// and the test holds every hashing slot until each guess is either
// refused by the limiter or waiting for its password check, so all of
// them are in flight at once however the goroutines are scheduled. Only
// then are the checks let through, against a cheap hash.
func TestConcurrentGuessesStayWithinTheLimit(t *testing.T) {
	s := conformanceService(t, storetest.SQLite(t).DSN)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.setClock(func() time.Time { return now })
	s.hashWait = time.Hour // a bound never reached: the test releases the slots itself
	cheapHash(t, s, "admin", testAdminPW)
	const n, limit, client = 30, 10, "198.51.100.1"
	ctx := withClient(client)

	for i := 0; i < maxConcurrentHashes; i++ {
		s.hashSlots <- struct{}{}
	}
	var limited atomic.Int32
	results := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := s.Login(ctx, "admin", "wrong-password", client)
			var rl *RateLimitError
			if errors.As(err, &rl) {
				limited.Add(1)
			}
			results <- err
		}()
	}
	// Each guess is decided once it is refused or queued for a check.
	for int(limited.Load())+s.hashTurns.waiting(client) < n {
		runtime.Gosched()
	}
	queued := s.hashTurns.waiting(client)
	for i := 0; i < maxConcurrentHashes; i++ {
		<-s.hashSlots
	}

	checked, refused := 0, 0
	var other []error
	for i := 0; i < n; i++ {
		var rl *RateLimitError
		switch err := <-results; {
		case errors.As(err, &rl):
			refused++
		case errors.Is(err, ErrUnauthenticated):
			checked++
		default:
			other = append(other, err)
		}
	}
	if queued != limit || checked != limit || refused != n-limit || len(other) > 0 {
		t.Fatalf("of %d wrong guesses at once for one user and client, %d were queued for a password check together and %d checked, "+
			"%d were rate-limited, and %d had another answer %v; want %d queued and checked (the limit), %d rate-limited, no other answer",
			n, queued, checked, refused, len(other), other, limit, n-limit)
	}
}

// waiting returns how many password checks of key hold its turn or wait
// for it (withHashSlot).
func (ts *turns) waiting(key string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if t := ts.m[key]; t != nil {
		return t.refs
	}
	return 0
}

// cheapHash gives user a password hash that takes microseconds to check,
// for tests that count checks rather than pay for them.
func cheapHash(t *testing.T, s *Service, user, password string) {
	t.Helper()
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(password), salt, 1, 8, 1, argonKeyLen)
	hash := fmt.Sprintf("$argon2id$v=%d$m=8,t=1,p=1$%s$%s", argon2.Version, b64.EncodeToString(salt), b64.EncodeToString(key))
	if err := s.db.Model(&store.User{}).Where("username = ?", user).Update("password_hash", hash).Error; err != nil {
		t.Fatal(err)
	}
	if ok, err := checkPassword(hash, password); err != nil || !ok {
		t.Fatalf("the cheap hash does not check: %v %v", ok, err)
	}
}

// TestPasswordHashingIsBounded: with every hashing slot busy a login waits,
// then answers unavailable instead of piling up 19 MiB argon2 runs; a
// sign-up with a wrong token is refused before any hashing.
func TestPasswordHashingIsBounded(t *testing.T) {
	s := conformanceService(t, storetest.SQLite(t).DSN)
	s.hashWait = 100 * time.Millisecond
	for i := 0; i < maxConcurrentHashes; i++ {
		s.hashSlots <- struct{}{}
	}
	defer func() {
		for i := 0; i < maxConcurrentHashes; i++ {
			<-s.hashSlots
		}
	}()
	if _, err := s.Login(context.Background(), "admin", testAdminPW, "c"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("login with no free slot: %v, want ErrUnavailable", err)
	}
	start := time.Now()
	_, err := s.Signup(context.Background(), "forged-token", "some-password-1", "c")
	wantField(t, err, "token")
	if time.Since(start) >= s.hashWait {
		t.Fatal("a forged sign-up token waited for a hashing slot")
	}
}

// TestWrongCurrentPasswordIsLimited: a stolen token cannot guess the
// current password freely through PATCH /me.
func TestWrongCurrentPasswordIsLimited(t *testing.T) {
	s := conformanceService(t, storetest.SQLite(t).DSN)
	ctx := context.Background()
	mustCreate(t, s, CreateUser{Username: "gus", Password: "gus-password"})
	tok, _ := s.Login(ctx, "gus", "gus-password", "c")
	id, err := s.auth.Authenticate(tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	pw, wrong := "gus-password-2", "not-the-password"
	var rl *RateLimitError
	for i := 0; i < 11; i++ {
		_, err = s.UpdateMe(ctx, id, UpdateMe{Password: &pw, CurrentPassword: &wrong})
		if errors.As(err, &rl) {
			break
		}
		wantField(t, err, "current_password")
	}
	if rl == nil {
		t.Fatal("wrong current passwords are not rate-limited")
	}
	if _, err := s.Login(ctx, "gus", "gus-password", "c2"); err != nil {
		t.Fatalf("the password changed: %v", err)
	}
}

// TestHashingIsSharedFairly: one client sending many password checks at
// once holds one hashing slot, not all of them, so another client's check
// runs while the first client's are still queued.
func TestHashingIsSharedFairly(t *testing.T) {
	s := conformanceService(t, storetest.SQLite(t).DSN)
	s.hashWait = time.Minute
	busy := withClient("203.0.113.7")
	release := make(chan struct{})
	var inFlight, most atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 2*maxConcurrentHashes; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.withHashSlot(busy, func() {
				n := inFlight.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				<-release
				inFlight.Add(-1)
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	// Wait until the busy client's first check holds a slot.
	for deadline := time.Now().Add(10 * time.Second); inFlight.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the busy client's first check never started")
		}
	}
	ran := false
	if err := s.withHashSlot(withClient("198.51.100.9"), func() { ran = true }); err != nil || !ran {
		t.Fatalf("another client's check while the busy one's queue: ran=%v %v", ran, err)
	}
	close(release)
	wg.Wait()
	if m := most.Load(); m != 1 {
		t.Errorf("the busy client held %d slots at once; want 1", m)
	}
}

// TestSuccessfulLoginsAreLimited: valid credentials do not buy unlimited
// password checks: a user's logins, failed or not, are limited per minute,
// and other users log in meanwhile.
func TestSuccessfulLoginsAreLimited(t *testing.T) {
	s := conformanceService(t, storetest.SQLite(t).DSN)
	ctx := context.Background()
	mustCreate(t, s, CreateUser{Username: "gus", Password: "gus-password-1"})
	var limited *RateLimitError
	n := 0
	for ; n < 50; n++ {
		_, err := s.Login(ctx, "gus", "gus-password-1", "203.0.113.7")
		if errors.As(err, &limited) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if limited == nil || n != 20 || limited.RetryAfter <= 0 || limited.RetryAfter > time.Minute {
		t.Fatalf("%d successful logins, then %v; want 20, then a wait of at most a minute", n, limited)
	}
	if _, err := s.Login(ctx, "admin", testAdminPW, "203.0.113.7"); err != nil {
		t.Fatalf("another user from the same client: %v", err)
	}
	// A client's logins are limited too, successful ones included, whoever
	// they name (a limit of 5 here instead of 120).
	s.checksPerClient = newLimiter(5, time.Minute, 16)
	mustCreate(t, s, CreateUser{Username: "ada", Password: "ada-password-1"})
	logins := []struct{ user, pw string }{{"ada", "ada-password-1"}, {"admin", testAdminPW}}
	for i := 0; i < 5; i++ {
		l := logins[i%2]
		if _, err := s.Login(ctx, l.user, l.pw, "192.0.2.1"); err != nil {
			t.Fatalf("login %d from the client: %v", i+1, err)
		}
	}
	if _, err := s.Login(ctx, "ada", "ada-password-1", "192.0.2.1"); !errors.As(err, &limited) {
		t.Fatalf("a sixth successful login from one client: %v", err)
	}
}

// withClient is a request context from a client address.
func withClient(addr string) context.Context {
	return WithRequest(context.Background(), "", addr)
}

// TestOthersCannotLockAUserOut: wrong passwords sent for a user from other
// addresses do not count against the user's own logins (a per-user count
// of failures would let anyone lock anyone out, the admin included).
func TestOthersCannotLockAUserOut(t *testing.T) {
	s := conformanceService(t, storetest.SQLite(t).DSN)
	ctx := context.Background()
	for _, client := range []string{"203.0.113.2", "203.0.113.3", "203.0.113.4"} {
		for i := 0; i < 10; i++ {
			if _, err := s.Login(ctx, "admin", "wrong-password-1", client); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("guess %d from %s: %v", i+1, client, err)
			}
		}
	}
	if _, err := s.Login(ctx, "admin", testAdminPW, "198.51.100.9"); err != nil {
		t.Fatalf("the admin's own login after others' guesses: %v", err)
	}
}

// TestRefusedProfileChangesHashNothing: a password change that cannot
// succeed (a taken email) fails before the current password is checked,
// so repeating it costs no hashing and counts against nothing.
func TestRefusedProfileChangesHashNothing(t *testing.T) {
	s := conformanceService(t, storetest.SQLite(t).DSN)
	ctx := context.Background()
	mustCreate(t, s, CreateUser{Username: "ada", Password: "ada-password-1", Email: "ada@example.com"})
	mustCreate(t, s, CreateUser{Username: "gus", Password: "gus-password-1"})
	gus := identityOf(t, s, "gus", "gus-password-1")
	for i := 0; i < 30; i++ {
		_, err := s.UpdateMe(ctx, gus, UpdateMe{Email: new("ada@example.com"), Password: new("brand-new-pass-99"), CurrentPassword: new("gus-password-1")})
		wantIs(t, err, ErrConflict)
	}
	if _, err := s.Login(ctx, "gus", "gus-password-1", "c-gus"); err != nil {
		t.Fatalf("gus's login after 30 refused changes: %v", err)
	}
}
