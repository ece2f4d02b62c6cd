// Package client is a small typed client of Gatehouse's admin API (the
// routes under /gatehouse/v1). The gatehouse CLI uses it; it sends the
// bearer token, decodes the API's error shape into *Error, and never logs
// or prints a token or a password.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// APIPrefix is where the admin API lives on a Gatehouse server.
const APIPrefix = "/gatehouse/v1"

// maxResponse bounds how much of an answer is read.
const maxResponse = 16 << 20

// Client calls one Gatehouse server.
type Client struct {
	base  string // scheme://host[/prefix], without a trailing slash
	token string // bearer token; empty for login and sign-up
	http  *http.Client
}

// New returns a client of the server at base (an http:// or https:// URL)
// that authenticates with token. An empty token is fine for Login and
// Signup.
func New(base, token string, hc *http.Client) (*Client, error) {
	u, err := ParseServer(base)
	if err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second, CheckRedirect: refuseRedirect}
	}
	return &Client{base: u, token: token, http: hc}, nil
}

// ParseServer checks a server URL and returns it without a trailing slash,
// query or fragment.
func ParseServer(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("server %q: want an http:// or https:// URL such as http://127.0.0.1:8080", s)
	}
	if u.User != nil {
		return "", fmt.Errorf("server %q: must not hold a user or password", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("server %q: must not have a query or fragment", s)
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// refuseRedirect stops at a redirect: the admin API never redirects, and
// following one would replay a login or a change against another URL.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	return fmt.Errorf("the server redirected to %s; use that address as the server", req.URL.Redacted())
}

// Server returns the server's base URL.
func (c *Client) Server() string { return c.base }

// Error is an error answer of the API: {"error":{"code","message"}}.
type Error struct {
	Status  int    // HTTP status
	Code    string // e.g. "not_found", "invalid_field"
	Message string // safe to show; names the field or object
}

func (e *Error) Error() string { return e.Message }

// IsCode reports whether err is an API error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Result is a decoded answer and the JSON body it was decoded from, for
// callers that print the body as the server sent it.
type Result[T any] struct {
	Value T
	Body  json.RawMessage
}

// do sends a request and decodes a 2xx JSON answer into a Result. body, when
// not nil, is sent as JSON.
func do[T any](ctx context.Context, c *Client, method, path string, query url.Values, body any) (Result[T], error) {
	var res Result[T]
	raw, err := c.send(ctx, method, path, query, body)
	if err != nil || len(raw) == 0 {
		return res, err
	}
	if err := json.Unmarshal(raw, &res.Value); err != nil {
		return res, fmt.Errorf("%s %s: unexpected answer from %s: %v", method, path, c.base, err)
	}
	res.Body = raw
	return res, nil
}

// newRequest builds a request to the admin API: path under APIPrefix, the
// query, body (when not nil) as JSON, and the client's token.
func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + APIPrefix + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// send performs one request and returns the body of a 2xx answer, or an
// *Error for an error answer.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body any) ([]byte, error) {
	req, err := c.newRequest(ctx, method, path, query, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", c.base, unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", c.base, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return raw, nil
	}
	return nil, decodeError(resp, raw)
}

// unwrapURLError drops *url.Error's "Post "URL":" prefix: the URL is
// already in the message, and a URL is never worth printing twice.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// decodeError turns an error answer into *Error. An answer without the
// API's error shape (a proxy's HTML page, say) is described by its status.
func decodeError(resp *http.Response, raw []byte) error {
	var shape struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e := &Error{Status: resp.StatusCode}
	if json.Unmarshal(raw, &shape) == nil && shape.Error.Message != "" {
		e.Code, e.Message = shape.Error.Code, shape.Error.Message
		return e
	}
	e.Message = fmt.Sprintf("%s %s: the server answered %s", resp.Request.Method, resp.Request.URL.Path, resp.Status)
	return e
}

// segment escapes a user or role name for a URL path. Names are made of
// A-Z a-z 0-9 . _ @ - (user ids too), so anything else, and "." or "..",
// cannot name an object; refusing it here keeps a name from reshaping the
// request path.
func segment(kind, name string) (string, error) {
	ok := name != "" && name != "." && name != ".."
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '@' || c == '-'
	}
	if !ok {
		return "", fmt.Errorf("invalid %s name %q: names are made of A-Z a-z 0-9 . _ @ -", kind, name)
	}
	return url.PathEscape(name), nil
}
