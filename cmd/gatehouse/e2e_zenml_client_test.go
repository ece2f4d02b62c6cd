package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// zenmlClient replays the HTTP exchange of ZenML 0.40.3's Python client,
// RestZenStore (src/zenml/zen_stores/rest_zen_store.py), as the requests
// library (2.31, through urllib3 and http.client) puts it on the wire. It is
// written from that source, not run from it; what it models:
//
//   - _get_auth_token: the first request of a store logs in with
//     requests.post(URL/api/v1/login, data={"username", "password"}), a
//     fresh session and connection, a form body; it keeps
//     response["access_token"] for the life of the store (_api_token).
//   - session: a requests.Session with the default headers (User-Agent,
//     Accept-Encoding, Accept, Connection) plus "Authorization: Bearer
//     <token>", one kept-alive connection.
//   - _request: adds the Source-Context header to the session, sends, and
//     on an AuthorizationException (a 401) drops the session and sends the
//     same request once more on a new one: same token, new connection, and
//     no Source-Context, which only the dropped session had.
//   - post/put: the body is the model's JSON as a str (data=body.json()),
//     so requests sets Content-Length and no Content-Type.
//   - _handle_response: 2xx → response.json(); otherwise
//     zen_server/exceptions.py's exception_from_response, as of 0.40: a
//     "detail" that is a list names the exception and its message; any other
//     body becomes the message whole (later versions also take a string
//     detail as the message, which the tests check separately: wantDetail).
type zenmlClient struct {
	t                  *testing.T
	host               string // 127.0.0.1:PORT, as the Host header carries it
	username, password string
	// apiKey, when set, is ZENML_STORE_API_KEY: the login sends it the way
	// later clients (0.47 on, get_or_generate_api_token) do, as the
	// password of the "zenml-api-key" grant, with no username.
	apiKey        string
	sourceContext string // "cli" for the zenml CLI, "python" for the SDK

	apiToken string  // _api_token
	session  *pyConn // _session; nil is None
	dials    int     // connections opened, login included
	log      []zenmlRequest
}

// zenmlRequest is one request the client sent and the status it got.
type zenmlRequest struct {
	method, target string
	sourceContext  bool // whether the Source-Context header went along
	conn           int  // which connection carried it (1 = the first dial)
	status         int
	body           string // the answer's body
}

// zenmlError is the exception the client raises for an error response.
type zenmlError struct {
	class, msg string
}

func (e *zenmlError) Error() string { return e.class + ": " + e.msg }

// pyConn is a session's connection (urllib3 keeps it alive between
// requests, and opens a new one after an answer that closed it) and what
// the session adds to every request.
type pyConn struct {
	c             net.Conn
	br            *bufio.Reader
	n             int  // dial number
	closed        bool // the last answer said Connection: close
	sourceContext bool // session.headers holds Source-Context
}

func newZenMLClient(t *testing.T, base, username, password string) *zenmlClient {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return &zenmlClient{t: t, host: u.Host, username: username, password: password, sourceContext: "cli"}
}

// defaultHeaders are requests.utils.default_headers(), in order.
var defaultHeaders = []string{
	"User-Agent: python-requests/2.31.0",
	"Accept-Encoding: gzip, deflate",
	"Accept: */*",
	"Connection: keep-alive",
}

func (z *zenmlClient) dial() *pyConn {
	z.t.Helper()
	c, err := net.DialTimeout("tcp", z.host, 5*time.Second)
	if err != nil {
		z.t.Fatal(err)
	}
	z.dials++
	z.t.Cleanup(func() { c.Close() })
	return &pyConn{c: c, br: bufio.NewReader(c), n: z.dials}
}

// roundTrip writes one request as http.client does (request line, Host,
// then the headers in order) and reads the answer.
func (z *zenmlClient) roundTrip(pc *pyConn, method, target string, headers []string, body string) (int, string) {
	z.t.Helper()
	if pc.closed { // urllib3's pool opens a new connection
		fresh := z.dial()
		pc.c, pc.br, pc.n, pc.closed = fresh.c, fresh.br, fresh.n, false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, z.host)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	_ = pc.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(pc.c, b.String()); err != nil {
		z.t.Fatalf("%s %s: %v", method, target, err)
	}
	res, err := http.ReadResponse(pc.br, &http.Request{Method: method})
	if err != nil {
		z.t.Fatalf("%s %s: reading the answer: %v", method, target, err)
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	pc.closed = res.Close
	if err != nil {
		z.t.Fatalf("%s %s: reading the body: %v", method, target, err)
	}
	z.log = append(z.log, zenmlRequest{method: method, target: target, conn: pc.n, status: res.StatusCode, body: string(data),
		sourceContext: hasHeader(headers, "Source-Context:")})
	return res.StatusCode, string(data)
}

func hasHeader(hs []string, prefix string) bool {
	for _, h := range hs {
		if strings.HasPrefix(h, prefix) {
			return true
		}
	}
	return false
}

// authToken is _get_auth_token: the stored token, or a login.
func (z *zenmlClient) authToken() (string, error) {
	if z.apiToken != "" {
		return z.apiToken, nil
	}
	pc := z.dial() // requests.post: a session and connection of its own
	defer pc.c.Close()
	form := "username=" + url.QueryEscape(z.username) + "&password=" + url.QueryEscape(z.password)
	if z.apiKey != "" { // data={"grant_type": ..., "password": api_key}, in that order
		form = "grant_type=zenml-api-key&password=" + url.QueryEscape(z.apiKey)
	}
	headers := append(append([]string(nil), defaultHeaders...),
		"Content-Length: "+strconv.Itoa(len(form)), "Content-Type: application/x-www-form-urlencoded")
	v, err := handleResponse(z.roundTrip(pc, "POST", "/api/v1/login", headers, form))
	if err != nil {
		return "", err
	}
	m, ok := v.(map[string]any)
	tok, _ := m["access_token"].(string)
	if !ok || tok == "" {
		return "", fmt.Errorf("ValueError: Bad API Response. Expected access token dict, got %T", v)
	}
	z.apiToken = tok
	return tok, nil
}

// getSession is the session property.
func (z *zenmlClient) getSession() (*pyConn, error) {
	if z.session == nil {
		if _, err := z.authToken(); err != nil {
			return nil, err
		}
		z.session = z.dial()
	}
	return z.session, nil
}

// sessionRequest is session.request: the session's headers, then the body's.
func (z *zenmlClient) sessionRequest(pc *pyConn, method, target, body string) (int, string) {
	headers := append(append([]string(nil), defaultHeaders...), "Authorization: Bearer "+z.apiToken)
	if pc.sourceContext {
		headers = append(headers, "Source-Context: "+z.sourceContext)
	}
	switch {
	case body != "":
		headers = append(headers, "Content-Length: "+strconv.Itoa(len(body)))
	case method != "GET" && method != "HEAD":
		headers = append(headers, "Content-Length: 0")
	}
	return z.roundTrip(pc, method, target, headers, body)
}

// request is _request, for path under /api/v1 and an encoded query.
func (z *zenmlClient) request(method, path, query, body string) (any, error) {
	z.t.Helper()
	target := "/api/v1" + path
	if query != "" {
		target += "?" + query
	}
	pc, err := z.getSession()
	if err != nil {
		return nil, err
	}
	pc.sourceContext = true
	v, err := handleResponse(z.sessionRequest(pc, method, target, body))
	if ze, ok := err.(*zenmlError); ok && ze.class == "AuthorizationException" {
		// "The authentication token could have expired; refresh it and
		// try again": a new session, the same _api_token.
		z.session.c.Close()
		z.session = nil
		if pc, err = z.getSession(); err != nil {
			return nil, err
		}
		return handleResponse(z.sessionRequest(pc, method, target, body))
	}
	return v, err
}

func (z *zenmlClient) get(path, query string) (any, error) { return z.request("GET", path, query, "") }
func (z *zenmlClient) post(path, body string) (any, error) { return z.request("POST", path, "", body) }

// restAPIExceptions is zen_server/exceptions.py's REST_API_EXCEPTIONS of
// ZenML 0.40: exception class names and the status each comes with, in
// order.
var restAPIExceptions = []struct {
	class  string
	status int
}{
	{"StackExistsError", 409}, {"StackComponentExistsError", 409}, {"SecretExistsError", 409},
	{"DuplicateRunNameError", 409}, {"EntityExistsError", 409},
	{"IllegalOperationError", 403},
	{"AuthorizationException", 401},
	{"DoesNotExistException", 404}, {"ZenKeyError", 404}, {"KeyError", 404},
	{"PydanticValidationError", 400}, {"ValidationError", 400}, {"ValueError", 400},
	{"NotImplementedError", 422}, {"PydanticValidationError", 422}, {"ValueError", 400},
	{"RuntimeError", 500},
	{"NotImplementedError", 501},
}

// handleResponse is _handle_response with exception_from_response.
func handleResponse(status int, body string) (any, error) {
	if status >= 200 && status < 300 {
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			return nil, &zenmlError{"ValueError", "Bad response from API. Expected json, got\n" + body}
		}
		return v, nil
	}
	// unpack_exc: a detail that is a list names the exception and its
	// arguments; anything else leaves the whole body as the message.
	name, msg := "", body
	var m map[string]any
	if json.Unmarshal([]byte(body), &m) == nil {
		if d, ok := m["detail"].([]any); ok && len(d) > 0 {
			if s, ok := d[0].(string); ok {
				args := make([]string, 0, len(d)-1)
				for _, a := range d[1:] {
					args = append(args, fmt.Sprint(a))
				}
				name, msg = s, strings.Join(args, ": ")
			}
		}
	}
	class := ""
	for _, e := range restAPIExceptions {
		if e.status != status {
			continue
		}
		class = e.class
		if name == e.class {
			break
		}
	}
	if class == "" {
		return nil, &zenmlError{"RuntimeError", fmt.Sprintf("%d HTTP Error received from server: %s", status, body)}
	}
	return nil, &zenmlError{class, msg}
}
