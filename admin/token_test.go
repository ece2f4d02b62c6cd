package admin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// tokenFixture is a Service on a fresh SQLite store with an admin ("root")
// and a guest ("bob"), and a token for each. The signing key and the user
// ids are fixed, so that every process of a fuzz run (the coordinator and
// its workers) accepts the same tokens.
type tokenFixture struct {
	svc             *Service
	auth            *Authenticator
	rootID, bobID   string
	rootTok, bobTok string
	kid             string
	secret          []byte
	rootVer, bobVer int64
	issuedAt        time.Time
}

const (
	fixtureKeyID  = "00c0ffee00c0ffee"
	fixtureRootID = "00000000-0000-4000-8000-000000000001"
	fixtureBobID  = "00000000-0000-4000-8000-000000000002"
	bobPassword   = "bob-password-1"
)

var fixtureKey = []byte("gatehouse-test-signing-key-32-by")

func newTokenFixture(tb testing.TB) *tokenFixture {
	tb.Helper()
	return newTokenFixtureTTL(tb, time.Hour)
}

// newTokenFixtureTTL is newTokenFixture with another --token-ttl.
func newTokenFixtureTTL(tb testing.TB, ttl time.Duration) *tokenFixture {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(tb.TempDir(), "gatehouse.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	eng, err := policy.New(ctx, db, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	hash, err := hashPassword(bobPassword)
	if err != nil {
		tb.Fatal(err)
	}
	seed := []any{
		&store.SigningKey{ID: fixtureKeyID, Secret: fixtureKey, CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		&store.User{ID: fixtureRootID, Username: "root", PasswordHash: hash, Active: true, TokenVersion: 1},
		&store.User{ID: fixtureBobID, Username: "bob", PasswordHash: hash, Active: true, TokenVersion: 1},
	}
	for _, row := range seed {
		if err := db.Create(row).Error; err != nil {
			tb.Fatal(err)
		}
	}
	err = eng.Update(ctx, func(c *policy.Change) error {
		c.Add("g", policy.UserSubject("root"), policy.RoleAdmin)
		c.Add("g", policy.UserSubject("bob"), policy.RoleGuest)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	svc, err := New(ctx, db, eng, Config{TokenTTL: ttl, InviteTTL: time.Hour, DefaultRole: policy.RoleGuest, AdminUsername: "root"},
		slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	f := &tokenFixture{
		svc: svc, auth: svc.Authenticator(), rootID: fixtureRootID, bobID: fixtureBobID,
		kid: fixtureKeyID, secret: fixtureKey, rootVer: 1, bobVer: 1,
	}
	if svc.keys.current != fixtureKeyID {
		tb.Fatalf("signing with key %q, want the fixture's", svc.keys.current)
	}
	f.issuedAt = time.Now()
	f.rootTok = f.issue(tb, "root")
	f.bobTok = f.issue(tb, "bob")
	return f
}

// fixedToken issues a token at a fixed time that expires in a century, so
// that every process of a fuzz run issues the very same string. Only a
// fixture whose TTL is that long accepts it.
func (f *tokenFixture) fixedToken(tb testing.TB, id string, ver int64) string {
	tb.Helper()
	tok, _, err := f.svc.keys.issue(&store.User{ID: id, TokenVersion: ver}, "", 100*365*24*time.Hour,
		time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func (f *tokenFixture) issue(tb testing.TB, username string) string {
	tb.Helper()
	tok, err := f.svc.IssueToken(context.Background(), username)
	if err != nil {
		tb.Fatal(err)
	}
	return tok.AccessToken
}

// claims returns valid claims for bob, to be spoiled by a case.
func (f *tokenFixture) claims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": tokenIssuer, "sub": f.bobID, "ver": f.bobVer,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// sign signs claims with method and key, with the given header fields.
func sign(tb testing.TB, method jwt.SigningMethod, header map[string]any, c jwt.Claims, key any) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, c)
	for k, v := range header {
		if v == nil {
			delete(t.Header, k)
			continue
		}
		t.Header[k] = v
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// forge builds a token by hand: any header, signed with HMAC-SHA256 over
// the usual signing input with key, the way a confused verifier would
// check it.
func forge(tb testing.TB, header, claims any, key []byte) string {
	tb.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		return string(b)
	}
	return forgeRaw(tb, enc(header), enc(claims), key)
}

// forgeRaw signs a header and claims given as JSON text, byte for byte.
func forgeRaw(tb testing.TB, header, claims string, key []byte) string {
	tb.Helper()
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// without returns c without the named claims.
func without(c jwt.MapClaims, names ...string) jwt.MapClaims {
	for _, n := range names {
		delete(c, n)
	}
	return c
}

// with returns c with one claim set.
func with(c jwt.MapClaims, name string, v any) jwt.MapClaims {
	c[name] = v
	return c
}

// badToken is a token Authenticate must refuse.
type badToken struct{ name, token string }

// verifyingBadTokens name the bad tokens whose signature and claims are
// good but whose user or version is not: they may enter the cache, and are
// refused on every use.
var verifyingBadTokens = map[string]bool{"stale ver": true, "unknown user": true, "user named instead of id": true}

// badTokens are tokens Authenticate must refuse, built against f.
func badTokens(tb testing.TB, f *tokenFixture) []badToken {
	hs256 := jwt.SigningMethodHS256
	kid := map[string]any{"kid": f.kid}
	now := time.Now()
	parts := strings.Split(f.bobTok, ".")
	rootParts := strings.Split(f.rootTok, ".")
	return []badToken{
		{"empty", ""},
		{"garbage", "garbage"},
		{"three dots", "..."},
		{"empty segments", "a.b.c"},
		{"not base64", "eyJ!.eyJ!.sig!"},
		{"two segments", parts[0] + "." + parts[1]},
		{"trailing dot", parts[0] + "." + parts[1] + "."},
		{"four segments", f.bobTok + ".x"},
		{"json header not object", base64.RawURLEncoding.EncodeToString([]byte(`"x"`)) + "." + parts[1] + "." + parts[2]},
		{"oversized", strings.Repeat("a", MaxTokenLen+1)},
		{"oversized valid prefix", f.bobTok + "." + strings.Repeat("A", MaxTokenLen)},
		{"expired", sign(tb, hs256, kid, with(f.claims(), "exp", now.Add(-time.Hour).Unix()), f.secret)},
		{"expired beyond the leeway", sign(tb, hs256, kid, with(f.claims(), "exp", now.Add(-tokenLeeway-2*time.Second).Unix()), f.secret)},
		{"alg none", sign(tb, jwt.SigningMethodNone, kid, f.claims(), jwt.UnsafeAllowNoneSignatureType)},
		{"alg none with a valid signature", forge(tb, map[string]any{"alg": "none", "typ": "JWT", "kid": f.kid}, f.claims(), f.secret)},
		{"alg None", forge(tb, map[string]any{"alg": "None", "kid": f.kid}, f.claims(), f.secret)},
		{"alg missing", forge(tb, map[string]any{"typ": "JWT", "kid": f.kid}, f.claims(), f.secret)},
		{"RS256 header HMAC-signed", forge(tb, map[string]any{"alg": "RS256", "typ": "JWT", "kid": f.kid}, f.claims(), f.secret)},
		{"hs256 lower case", forge(tb, map[string]any{"alg": "hs256", "kid": f.kid}, f.claims(), f.secret)},
		{"HS512", sign(tb, jwt.SigningMethodHS512, kid, f.claims(), f.secret)},
		{"HS384", sign(tb, jwt.SigningMethodHS384, kid, f.claims(), f.secret)},
		{"wrong key", sign(tb, hs256, kid, f.claims(), []byte("0123456789abcdef0123456789abcdef"))},
		{"empty key", forge(tb, map[string]any{"alg": "HS256", "kid": f.kid}, f.claims(), nil)},
		{"unknown kid", sign(tb, hs256, map[string]any{"kid": "0000000000000000"}, f.claims(), f.secret)},
		{"no kid", sign(tb, hs256, nil, f.claims(), f.secret)},
		{"kid not a string", sign(tb, hs256, map[string]any{"kid": 7}, f.claims(), f.secret)},
		{"missing exp", sign(tb, hs256, kid, without(f.claims(), "exp"), f.secret)},
		{"exp not a number", sign(tb, hs256, kid, with(f.claims(), "exp", "tomorrow"), f.secret)},
		{"missing sub", sign(tb, hs256, kid, without(f.claims(), "sub"), f.secret)},
		{"empty sub", sign(tb, hs256, kid, with(f.claims(), "sub", ""), f.secret)},
		{"sub not a string", sign(tb, hs256, kid, with(f.claims(), "sub", 42), f.secret)},
		{"missing ver", sign(tb, hs256, kid, without(f.claims(), "ver"), f.secret)},
		{"ver zero", sign(tb, hs256, kid, with(f.claims(), "ver", 0), f.secret)},
		{"ver not a number", sign(tb, hs256, kid, with(f.claims(), "ver", "1"), f.secret)},
		{"stale ver", sign(tb, hs256, kid, with(f.claims(), "ver", f.bobVer+1), f.secret)},
		{"unknown user", sign(tb, hs256, kid, with(f.claims(), "sub", "no-such-user"), f.secret)},
		{"user named instead of id", sign(tb, hs256, kid, with(f.claims(), "sub", "bob"), f.secret)},
		{"wrong issuer", sign(tb, hs256, kid, with(f.claims(), "iss", "someone-else"), f.secret)},
		{"missing issuer", sign(tb, hs256, kid, without(f.claims(), "iss"), f.secret)},
		{"issued in the future", sign(tb, hs256, kid, with(f.claims(), "iat", now.Add(time.Hour).Unix()), f.secret)},
		{"not valid yet", sign(tb, hs256, kid, with(f.claims(), "nbf", now.Add(time.Hour).Unix()), f.secret)},
		{"missing iat", sign(tb, hs256, kid, without(f.claims(), "iat"), f.secret)},
		{"lifetime beyond the TTL", sign(tb, hs256, kid, with(f.claims(), "exp", now.Add(f.svc.cfg.TokenTTL+time.Minute).Unix()), f.secret)},
		{"issued long ago, valid for a century", sign(tb, hs256, kid,
			with(with(f.claims(), "iat", now.Add(-time.Hour).Unix()), "exp", now.Add(100*365*24*time.Hour).Unix()), f.secret)},
		{"claim repeated", forgeRaw(tb, `{"alg":"HS256","typ":"JWT","kid":"`+f.kid+`"}`,
			`{"iss":"gatehouse","sub":"`+f.rootID+`","sub":"`+f.bobID+`","ver":1,"iat":`+strconv.FormatInt(now.Unix(), 10)+`,"exp":`+strconv.FormatInt(now.Add(time.Hour).Unix(), 10)+`}`, f.secret)},
		{"header field repeated", forgeRaw(tb, `{"alg":"HS256","kid":"0000000000000000","kid":"`+f.kid+`"}`,
			`{"iss":"gatehouse","sub":"`+f.bobID+`","ver":1,"iat":`+strconv.FormatInt(now.Unix(), 10)+`,"exp":`+strconv.FormatInt(now.Add(time.Hour).Unix(), 10)+`}`, f.secret)},
		{"payload swapped", rootParts[0] + "." + parts[1] + "." + rootParts[2]},
		{"signature swapped", parts[0] + "." + parts[1] + "." + rootParts[2]},
		{"signature dropped", parts[0] + "." + parts[1] + "."},
		{"payload tampered", parts[0] + "." + base64.RawURLEncoding.EncodeToString(
			[]byte(`{"iss":"gatehouse","sub":"`+f.rootID+`","exp":4102444800,"iat":1,"ver":1}`)) + "." + parts[2]},
	}
}

// TestAuthenticateRefuses checks that every malformed, forged, expired or
// stale token is refused as unauthenticated, and that none of them enters
// the cache of verified tokens.
func TestAuthenticateRefuses(t *testing.T) {
	f := newTokenFixture(t)
	for _, c := range badTokens(t, f) {
		t.Run(c.name, func(t *testing.T) {
			before := f.auth.cache.len()
			id, err := f.auth.Authenticate(c.token)
			if id != nil || !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("Authenticate = %v, %v; want ErrUnauthenticated", id, err)
			}
			if n := f.auth.cache.len(); n != before && !verifyingBadTokens[c.name] {
				t.Errorf("the token cache grew from %d to %d", before, n)
			}
		})
	}
}

func TestAuthenticateAccepts(t *testing.T) {
	f := newTokenFixture(t)
	for _, c := range []struct {
		name, token, id, user string
	}{
		{"issued to bob", f.bobTok, f.bobID, "bob"},
		{"issued to root", f.rootTok, f.rootID, "root"},
		{"issued a while ago, for the whole TTL", sign(t, jwt.SigningMethodHS256, map[string]any{"kid": f.kid},
			with(with(f.claims(), "iat", time.Now().Add(-50*time.Minute).Unix()), "exp", time.Now().Add(10*time.Minute).Unix()), f.secret), f.bobID, "bob"},
		{"crafted like an issued one", sign(t, jwt.SigningMethodHS256, map[string]any{"kid": f.kid}, f.claims(), f.secret), f.bobID, "bob"},
		{"expired within the leeway", sign(t, jwt.SigningMethodHS256, map[string]any{"kid": f.kid},
			with(f.claims(), "exp", time.Now().Add(-2*time.Second).Unix()), f.secret), f.bobID, "bob"},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, err := f.auth.Authenticate(c.token)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if id.UserID() != c.id || id.Username() != c.user || id.Subject() != policy.UserSubject(c.user) {
				t.Errorf("identity %s/%s/%s, want %s/%s", id.UserID(), id.Username(), id.Subject(), c.id, c.user)
			}
		})
	}
	// The identity carries the user's roles for X-Forwarded-Groups.
	id, _ := f.auth.Authenticate(f.rootTok)
	if g := f.svc.eng.Groups(id.Subject()); g != policy.RoleAdmin {
		t.Errorf("root's groups %q, want %q", g, policy.RoleAdmin)
	}
}

// TestAuthenticateVerifiesOnce checks that a token's signature is checked
// once and the second use is served from the cache: with every signing key
// gone, the cached token is still accepted while an uncached one is not.
func TestAuthenticateVerifiesOnce(t *testing.T) {
	f := newTokenFixture(t)
	if n := f.auth.cache.len(); n != 0 {
		t.Fatalf("cache holds %d tokens before any use", n)
	}
	if _, err := f.auth.Authenticate(f.bobTok); err != nil {
		t.Fatal(err)
	}
	if n := f.auth.cache.len(); n != 1 || f.auth.cache.get(f.bobTok) == nil {
		t.Fatalf("after one use the cache holds %d tokens, want bob's", n)
	}
	f.svc.keys.mu.Lock()
	f.svc.keys.keys = map[string][]byte{}
	f.svc.keys.mu.Unlock()
	for range 3 {
		if id, err := f.auth.Authenticate(f.bobTok); err != nil || id.UserID() != f.bobID {
			t.Fatalf("cached token: %v, %v; want bob from the cache", id, err)
		}
	}
	if _, err := f.auth.Authenticate(f.rootTok); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("uncached token with no keys: %v; want it verified, and refused", err)
	}
	if n := f.auth.cache.len(); n != 1 {
		t.Errorf("cache holds %d tokens, want 1", n)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := f.auth.Authenticate(f.bobTok); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a cached token costs %v allocations, want 0", allocs)
	}
}

// TestAuthenticateExpiresFromCache checks expiry on every use, not only
// when the token is first verified.
func TestAuthenticateExpiresFromCache(t *testing.T) {
	f := newTokenFixture(t)
	if _, err := f.auth.Authenticate(f.bobTok); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		after time.Duration
		ok    bool
	}{
		{30 * time.Minute, true},
		{time.Hour + tokenLeeway - time.Second, true},
		{time.Hour + tokenLeeway + 2*time.Second, false},
		{48 * time.Hour, false},
	} {
		at := f.issuedAt.Add(c.after)
		f.auth.now = func() time.Time { return at }
		_, err := f.auth.Authenticate(f.bobTok)
		if ok := err == nil; ok != c.ok {
			t.Errorf("%v after issue: accepted %v, want %v (%v)", c.after, ok, c.ok, err)
		}
		if err != nil && !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%v after issue: %v, want ErrUnauthenticated", c.after, err)
		}
	}
}

// TestAuthenticateRevocation checks that a password change, deactivation
// and deletion end the tokens issued before, although they are cached.
func TestAuthenticateRevocation(t *testing.T) {
	ctx := context.Background()
	f := newTokenFixture(t)
	wantOK := func(t *testing.T, tok, what string) {
		t.Helper()
		if id, err := f.auth.Authenticate(tok); err != nil || id.UserID() != f.bobID {
			t.Fatalf("%s: %v, %v; want bob", what, id, err)
		}
	}
	wantRefused := func(t *testing.T, tok, what string) {
		t.Helper()
		if id, err := f.auth.Authenticate(tok); id != nil || !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("%s: %v, %v; want ErrUnauthenticated", what, id, err)
		}
	}
	str := func(s string) *string { return &s }
	boolean := func(b bool) *bool { return &b }

	wantOK(t, f.bobTok, "before any change")
	if f.auth.cache.get(f.bobTok) == nil {
		t.Fatal("bob's token is not cached")
	}

	t.Run("password changed by an admin", func(t *testing.T) {
		if _, err := f.svc.UpdateUser(ctx, f.rootID, "bob", UpdateUser{Password: str("bob-password-2")}); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, f.bobTok, "token from before the change")
	})
	t.Run("password changed by the user", func(t *testing.T) {
		tok := f.issue(t, "bob")
		wantOK(t, tok, "fresh token")
		me := f.svc.dir.get(f.bobID)
		if _, err := f.svc.UpdateMe(ctx, me, UpdateMe{Password: str("bob-password-3"), CurrentPassword: str("bob-password-2")}); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, tok, "token from before the change")
	})
	t.Run("a profile change keeps tokens", func(t *testing.T) {
		tok := f.issue(t, "bob")
		if _, err := f.svc.UpdateUser(ctx, f.rootID, "bob", UpdateUser{FullName: str("Bob B.")}); err != nil {
			t.Fatal(err)
		}
		wantOK(t, tok, "token after a full-name change")
	})
	t.Run("deactivated", func(t *testing.T) {
		tok := f.issue(t, "bob")
		wantOK(t, tok, "fresh token")
		if _, err := f.svc.UpdateUser(ctx, f.rootID, "bob", UpdateUser{Active: boolean(false)}); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, tok, "token of a deactivated user")
		if _, err := f.svc.UpdateUser(ctx, f.rootID, "bob", UpdateUser{Active: boolean(true)}); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, tok, "token from before deactivation, after reactivation")
		wantOK(t, f.issue(t, "bob"), "token issued after reactivation")
	})
	t.Run("deleted", func(t *testing.T) {
		tok := f.issue(t, "bob")
		wantOK(t, tok, "fresh token")
		if err := f.svc.DeleteUser(ctx, f.rootID, "bob"); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, tok, "token of a deleted user")
	})
	if id, err := f.auth.Authenticate(f.rootTok); err != nil || id.UserID() != f.rootID {
		t.Errorf("root's token after changes to bob: %v, %v", id, err)
	}
}

// FuzzToken checks that Authenticate never panics, refuses with
// ErrUnauthenticated only, and accepts nothing but a token that was
// issued, exactly as it was issued, for the user it was issued to.
func FuzzToken(f *testing.F) {
	fx := newTokenFixtureTTL(f, 100*365*24*time.Hour)
	valid := map[string]string{
		fx.fixedToken(f, fx.bobID, fx.bobVer):   fx.bobID,
		fx.fixedToken(f, fx.rootID, fx.rootVer): fx.rootID,
	}
	for tok := range valid {
		f.Add(tok)
		for _, r := range respellings(tok) {
			f.Add(r)
		}
	}
	for _, c := range badTokens(f, fx) {
		f.Add(c.token)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := fx.auth.Authenticate(tok)
		if err != nil {
			if id != nil || !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("Authenticate(%q) = %v, %v; want nil and ErrUnauthenticated", tok, id, err)
			}
			return
		}
		want, ok := valid[tok]
		if !ok {
			t.Fatalf("Authenticate accepted %q, which was never issued", tok)
		}
		if id.UserID() != want {
			t.Fatalf("Authenticate(%q) = user %s, want %s", tok, id.UserID(), want)
		}
	})
}

// respellings returns other spellings of tok that a lenient base64 decoder
// reads as the same bytes: the last signature character with different
// unused low bits, line breaks inside the signature, and padding.
func respellings(tok string) []string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var out []string
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	for bits := 1; bits < 4; bits++ {
		out = append(out, tok[:len(tok)-1]+string(alphabet[last^bits]))
	}
	sig := strings.LastIndexByte(tok, '.') + 1
	for _, s := range []string{"\n", "\r", "\r\n"} {
		out = append(out, tok[:sig+4]+s+tok[sig+4:], tok+s)
	}
	return append(out, tok+"=", " "+tok, tok+" ")
}

// TestAuthenticateOneSpellingPerToken checks that only the exact issued
// string of a token is accepted. The token cache is keyed by that string
// and FuzzToken asserts it; golang-jwt's default decoder accepted four
// spellings of every signature and ignored line breaks in it.
func TestAuthenticateOneSpellingPerToken(t *testing.T) {
	f := newTokenFixture(t)
	for _, tok := range respellings(f.bobTok) {
		if id, err := f.auth.Authenticate(tok); id != nil || !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("Authenticate(%q) = %v, %v; want only the issued spelling accepted", tok, id, err)
		}
	}
	if _, err := f.auth.Authenticate(f.bobTok); err != nil {
		t.Errorf("the issued token: %v", err)
	}
}
