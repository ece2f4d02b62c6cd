package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/internal/jsonobject"
)

// Token parameters.
const (
	tokenIssuer = "gatehouse"
	// tokenLeeway is the clock skew tolerated on exp, iat and nbf.
	tokenLeeway = 5 * time.Second
	// MaxTokenLen caps the size of a bearer token; longer ones are refused
	// before any parsing.
	MaxTokenLen = 4096
)

// signingMethod is pinned: the alg of a token's header is never trusted.
var signingMethod = jwt.SigningMethodHS256

// claims are the claims of a Gatehouse access token.
type claims struct {
	jwt.RegisteredClaims
	// Ver is the user's token version when the token was issued.
	Ver int64 `json:"ver"`
	// Key is the id of the API key the token was traded for (Service.
	// LoginWithKey), absent otherwise: the token ends with the key, and
	// the key's roles narrow it.
	Key string `json:"key,omitempty"`
	// Sst is when the browser session the token belongs to began (unix
	// seconds), absent on other tokens: a session token is renewed while
	// it is used (Service.RenewSession), up to the session's maximum age.
	Sst int64 `json:"sst,omitempty"`
}

// keyring holds the signing keys. The newest signs; all verify.
type keyring struct {
	db *gorm.DB
	// ttl is the longest lifetime a token may claim (exp - iat).
	ttl time.Duration

	mu      sync.RWMutex // guards keys and current
	keys    map[string][]byte
	current string

	parser *jwt.Parser
	now    func() time.Time // the service's clock
}

func newKeyring(ctx context.Context, db *gorm.DB, ttl time.Duration, now func() time.Time) (*keyring, error) {
	k := &keyring{
		db: db, ttl: ttl, now: now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{signingMethod.Alg()}),
			// One spelling per signature: unused low bits must be zero.
			jwt.WithStrictDecoding(),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(tokenIssuer),
			jwt.WithLeeway(tokenLeeway),
			jwt.WithTimeFunc(func() time.Time { return now() }),
		),
	}
	if err := k.load(ctx, db); err != nil {
		return nil, err
	}
	return k, nil
}

// ensure creates the first signing key when the store has none. Callers
// hold the bootstrap lock, so replicas starting at once make one key.
func (k *keyring) ensure(ctx context.Context) error {
	if err := k.load(ctx, k.db); err != nil {
		return err
	}
	if k.current != "" {
		return nil
	}
	if _, err := k.create(ctx, k.db); err != nil {
		return err
	}
	return k.load(ctx, k.db)
}

// load reads every key through db.
func (k *keyring) load(ctx context.Context, db *gorm.DB) error {
	var rows []store.SigningKey
	if err := db.WithContext(ctx).Order("created_at, id").Find(&rows).Error; err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	keys := make(map[string][]byte, len(rows))
	current := ""
	for _, r := range rows {
		keys[r.ID] = r.Secret
		current = r.ID
	}
	k.mu.Lock()
	k.keys, k.current = keys, current
	k.mu.Unlock()
	return nil
}

// create stores a new signing key through db and returns its id. It signs
// once loaded; keys signed with older keys stay valid until they expire.
func (k *keyring) create(ctx context.Context, db *gorm.DB) (string, error) {
	id := make([]byte, 8)
	secret := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return "", err
	}
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	row := store.SigningKey{ID: hex.EncodeToString(id), Secret: secret, CreatedAt: time.Now().UTC()}
	if err := db.WithContext(ctx).Create(&row).Error; err != nil {
		return "", fmt.Errorf("storing signing key: %w", err)
	}
	return row.ID, nil
}

// issue signs an access token for a user; keyID names the API key it is
// traded for, or is "".
func (k *keyring) issue(u *store.User, keyID string, ttl time.Duration, now time.Time) (string, time.Time, error) {
	exp := now.Add(ttl)
	t, err := k.sign(accessClaims(u.ID, u.TokenVersion, now, exp, keyID, 0))
	return t, exp, err
}

// issueSession signs the token of a browser session that began at sst
// (unix seconds), valid until exp.
func (k *keyring) issueSession(userID string, ver, sst int64, exp, now time.Time) (string, time.Time, error) {
	t, err := k.sign(accessClaims(userID, ver, now, exp, "", sst))
	return t, exp, err
}

func accessClaims(userID string, ver int64, now, exp time.Time, keyID string, sst int64) claims {
	return claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    tokenIssuer,
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		Ver: ver, Key: keyID, Sst: sst,
	}
}

// sign signs c with the current key.
func (k *keyring) sign(c jwt.Claims) (string, error) {
	return k.signWith(k.currentID(), c)
}

// currentID returns the id of the key that signs.
func (k *keyring) currentID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.current
}

// signWith signs c with the key kid.
func (k *keyring) signWith(kid string, c jwt.Claims) (string, error) {
	k.mu.RLock()
	secret, ok := k.keys[kid]
	k.mu.RUnlock()
	if !ok {
		return "", errNoKey
	}
	t := jwt.NewWithClaims(signingMethod, c)
	t.Header["kid"] = kid
	return t.SignedString(secret)
}

// derive returns a secret value for purpose and id under the key kid:
// HMAC-SHA256 of both, base64url (43 characters). Every replica derives
// the same value, and nobody without the key can.
func (k *keyring) derive(kid, purpose, id string) (string, error) {
	k.mu.RLock()
	secret, ok := k.keys[kid]
	k.mu.RUnlock()
	if !ok {
		return "", errNoKey
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose + "\x00" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

// parseSigned verifies a token sign made for another purpose than access
// (its issuer is iss, never tokenIssuer) into out, and returns the id of
// the key that signed it.
func (k *keyring) parseSigned(token, iss string, out jwt.Claims) (string, error) {
	if len(token) > MaxTokenLen || !compactJWS(token) {
		return "", errMalformed
	}
	p := jwt.NewParser(jwt.WithValidMethods([]string{signingMethod.Alg()}), jwt.WithStrictDecoding(),
		jwt.WithExpirationRequired(), jwt.WithIssuer(iss), jwt.WithLeeway(tokenLeeway), jwt.WithTimeFunc(k.now))
	t, err := p.ParseWithClaims(token, out, k.secretOf)
	if err != nil {
		return "", err
	}
	kid, _ := t.Header["kid"].(string)
	return kid, nil
}

// secretOf returns the secret of the key a token's header names.
func (k *keyring) secretOf(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	k.mu.RLock()
	secret, ok := k.keys[kid]
	k.mu.RUnlock()
	if !ok {
		return nil, errNoKey
	}
	return secret, nil
}

var errNoKey = errors.New("unknown signing key")

var errMalformed = errors.New("token is not three base64url segments")

// compactJWS reports whether token is three unpadded base64url segments
// joined by dots. Go's base64 decoder skips line breaks even in strict
// mode, so without this check a signature with a "\n" inside verified
// too, and a token had many spellings.
func compactJWS(token string) bool {
	dots := 0
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case c == '.':
			dots++
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return dots == 2
}

// verify checks a token's signature and claims. Only the exact string that
// was issued verifies, which the token cache, keyed by that string, relies
// on.
func (k *keyring) verify(token string) (*claims, error) {
	if !compactJWS(token) {
		return nil, errMalformed
	}
	var c claims
	_, err := k.parser.ParseWithClaims(token, &c, k.secretOf)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Subject == "" || c.Ver == 0 || c.IssuedAt == nil:
		return nil, errors.New("token lacks sub, ver or iat")
	case c.ExpiresAt.Sub(c.IssuedAt.Time) > k.ttl+tokenLeeway:
		return nil, fmt.Errorf("token claims a lifetime of %s; at most %s is issued", c.ExpiresAt.Sub(c.IssuedAt.Time), k.ttl)
	}
	// encoding/json lets the last of two equal claims win; another reader
	// may take the first. The signature makes this moot for tokens issued
	// here, so a token that repeats a key was not.
	for _, seg := range strings.SplitN(token, ".", 3)[:2] {
		data, err := base64.RawURLEncoding.DecodeString(seg)
		if keys, ok := jsonobject.Keys(data); err != nil || !ok || hasDuplicateKey(keys) {
			return nil, errors.New("token header or claims repeat a key")
		}
	}
	return &c, nil
}

// hasDuplicateKey reports whether a JSON object repeats a key.
func hasDuplicateKey(keys []string) bool {
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			return true
		}
		seen[k] = true
	}
	return false
}
