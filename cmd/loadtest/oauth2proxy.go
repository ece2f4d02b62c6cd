package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// oauth2ProxyVersion is the oauth2-proxy the comparison runs: installed with
// `go install` at run time (never part of this module), and kept in the
// user's cache directory between runs.
const oauth2ProxyVersion = "v7.15.6"

// oauth2ProxyBinary returns the path of oauth2-proxy, installing it into
// the cache on first use. An error says why it is not available (no
// network, no Go toolchain).
func oauth2ProxyBinary(ctx context.Context) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "gatehouse-loadtest", "oauth2-proxy-"+oauth2ProxyVersion)
	bin := filepath.Join(dir, "oauth2-proxy")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	// Installed into a temporary directory, then moved into the cache, so
	// an interrupted install leaves nothing that looks complete.
	// The temporary directory is in the cache, on the same file system, so
	// that the rename below works where /tmp is a tmpfs.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "oauth2-proxy-install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	fmt.Printf("installing oauth2-proxy %s (go install, once; cached in %s)\n", oauth2ProxyVersion, dir)
	ictx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ictx, "go", "install", "github.com/oauth2-proxy/oauth2-proxy/v7@"+oauth2ProxyVersion)
	// Outside this module, so that its go.mod is neither read nor changed.
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install oauth2-proxy@%s: %v\n%s", oauth2ProxyVersion, err, tail(out, 800))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(filepath.Join(tmp, "oauth2-proxy"), bin); err != nil {
		return "", err
	}
	return bin, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// oauth2Proxy is a running oauth2-proxy in front of the upstream, with the
// OpenID Connect provider whose bearer tokens it accepts.
type oauth2Proxy struct {
	cmd   *exec.Cmd
	url   string
	token string // a bearer token the provider issued
	idp   *testkit.IdP
}

// startOAuth2Proxy runs oauth2-proxy as an authenticating proxy for bearer
// tokens: it verifies each request's token (RS256, from the provider in
// this process) and passes the user upstream in X-Forwarded-User and
// -Email, as Gatehouse does. Request logging is off, as Gatehouse's is at
// --log-level error.
func (l *lab) startOAuth2Proxy(ctx context.Context, bin string) (*oauth2Proxy, error) {
	idp, err := testkit.StartIdP()
	if err != nil {
		return nil, err
	}
	claims := idp.Claims()
	claims["exp"] = time.Now().Add(24 * time.Hour).Unix()
	claims["email_verified"] = true
	tok, err := idp.SignClaims(claims)
	if err != nil {
		idp.Close()
		return nil, err
	}
	secret := make([]byte, 16)
	_, _ = crand.Read(secret)
	addr := freeAddr()
	logs := &syncBuffer{}
	cmd, err := l.start(ctx, bin, []string{
		"--http-address=" + addr,
		"--upstream=" + l.upstream + "/",
		"--provider=oidc",
		"--oidc-issuer-url=" + idp.URL,
		"--client-id=" + claims["aud"].(string),
		"--client-secret=loadtest-client-secret",
		"--cookie-secret=" + hex.EncodeToString(secret), // 32 bytes
		"--cookie-secure=false",
		"--email-domain=*",
		"--skip-jwt-bearer-tokens=true",
		"--bearer-token-login-fallback=false",
		"--pass-user-headers=true",
		"--request-logging=false",
		"--auth-logging=false",
		"--silence-ping-logging=true",
	}, nil, logs)
	if err != nil {
		idp.Close()
		return nil, err
	}
	o := &oauth2Proxy{cmd: cmd, url: "http://" + addr, token: tok, idp: idp}
	if err := waitHTTP(ctx, o.url+"/ping", 30*time.Second); err != nil {
		idp.Close()
		return nil, fmt.Errorf("oauth2-proxy did not start: %v\n%s", err, tail([]byte(logs.String()), 2000))
	}
	return o, nil
}
