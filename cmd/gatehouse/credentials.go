package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// credentials is the CLI's login file: one token per server, and the
// server of the last login, which client commands use when neither
// --server nor GATEHOUSE_SERVER names one. It lives at
// <user config dir>/gatehouse/credentials.json, mode 0600 in a 0700
// directory, because it holds bearer tokens.
type credentials struct {
	Current string                  `json:"current"`
	Logins  map[string]*storedLogin `json:"logins"`
}

// storedLogin is a stored token for one server.
type storedLogin struct {
	Username  string       `json:"username"`
	Token     admin.Secret `json:"token"`
	ExpiresAt time.Time    `json:"expires_at"`
}

// login returns the stored login for the server base and the server it is
// stored for: base itself or, when base names this machine's loopback
// interface, a login stored under another of its names (localhost,
// 127.0.0.1, [::1]) with the same scheme, port and path, so that a login
// made with the URL a sign-up page or a document shows is found when the
// user types the other. Only the stored server ever gets its token:
// callers send it there, not to base, so no token goes to an address that
// did not issue it. The second result is nil when there is no login.
func (c *credentials) login(base string) (string, *storedLogin) {
	if l := c.Logins[base]; l != nil && l.Token != "" {
		return base, l
	}
	for _, alias := range loopbackAliases(base) {
		if l := c.Logins[alias]; l != nil && l.Token != "" {
			return alias, l
		}
	}
	return base, nil
}

// loopbackNames are the names of this machine's loopback interface, most
// common first.
var loopbackNames = [...]string{"127.0.0.1", "localhost", "::1"}

// loopbackAliases returns base under the other loopback names, in the form
// client.ParseServer gives; nothing when base is not a loopback URL.
func loopbackAliases(base string) []string {
	u, err := url.Parse(base)
	if err != nil || !slices.Contains(loopbackNames[:], u.Hostname()) {
		return nil
	}
	var out []string
	for _, name := range loopbackNames {
		if name == u.Hostname() {
			continue
		}
		host := name
		if port := u.Port(); port != "" {
			host = net.JoinHostPort(name, port)
		} else if strings.Contains(name, ":") {
			host = "[" + name + "]"
		}
		out = append(out, u.Scheme+"://"+host+u.EscapedPath())
	}
	return out
}

// configDir is os.UserConfigDir, reading the environment through getenv so
// that tests (and run's callers) control where credentials go.
func configDir(getenv env) (string, error) {
	var dir string
	switch runtime.GOOS {
	case "windows":
		dir = getenv("AppData")
	case "darwin", "ios":
		if h := getenv("HOME"); h != "" {
			dir = filepath.Join(h, "Library", "Application Support")
		}
	case "plan9":
		if h := getenv("home"); h != "" {
			dir = filepath.Join(h, "lib")
		}
	default:
		dir = getenv("XDG_CONFIG_HOME")
		if dir != "" && !filepath.IsAbs(dir) {
			return "", fmt.Errorf("XDG_CONFIG_HOME %q must be an absolute path", dir)
		}
		if h := getenv("HOME"); dir == "" && h != "" {
			dir = filepath.Join(h, ".config")
		}
	}
	if dir == "" {
		return "", errors.New("cannot find the user config directory: neither XDG_CONFIG_HOME nor HOME is set")
	}
	return dir, nil
}

// credentialsPath is where the login file lives.
func credentialsPath(getenv env) (string, error) {
	dir, err := configDir(getenv)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "gatehouse", "credentials.json"), nil
}

// loadCredentials reads the login file; a missing file is an empty one.
func loadCredentials(path string) (*credentials, error) {
	c := &credentials{Logins: map[string]*storedLogin{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading credentials: %w", err)
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("credentials file %s is damaged (%v); log in again to replace it", path, err)
	}
	if c.Logins == nil {
		c.Logins = map[string]*storedLogin{}
	}
	return c, nil
}

// save writes the login file atomically: a private temporary file in the
// same directory, renamed over the old one, so that the token is never
// readable by others, not even for a moment, and a crash leaves the old
// file whole.
func (c *credentials) save(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("saving credentials: %w", err)
	}
	// MkdirAll keeps an existing directory's mode; tighten ours.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("saving credentials: %w", err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".credentials-*.json") // mode 0600
	if err != nil {
		return fmt.Errorf("saving credentials: %w", err)
	}
	defer os.Remove(f.Name()) // a no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("saving credentials: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("saving credentials: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("saving credentials: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("saving credentials: %w", err)
	}
	return nil
}
