package admin

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
)

// TestConcurrentGuessesStayWithinTheLimit: wrong logins sent at once for
// one user and client are counted when they start, so no more than the
// limit ever reach a password check.
func TestConcurrentGuessesStayWithinTheLimit(t *testing.T) {
	s := conformanceService(t, storetest.SQLite(t).DSN)
	const n = 30
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked, limited := 0, 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Login(context.Background(), "admin", "wrong-password", "198.51.100.1")
			var rl *RateLimitError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.As(err, &rl):
				limited++
			case errors.Is(err, ErrUnauthenticated):
				checked++
			default:
				t.Errorf("unexpected %v", err)
			}
		}()
	}
	wg.Wait()
	if checked > 10 || checked+limited != n {
		t.Fatalf("%d guesses were checked and %d limited; want at most 10 checked", checked, limited)
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
