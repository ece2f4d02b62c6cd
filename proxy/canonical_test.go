package proxy

import (
	"errors"
	"testing"
)

// TestCanonicalizeDotSegmentParams covers dot segments carrying a path
// parameter, raw or percent-encoded. A servlet container reads "..;x" as
// "..", and Canonicalize forwards a decoded ";" as a raw ";", so
// "/x/..%3B/admin" would be decided as a name but read upstream as "/admin".
func TestCanonicalizeDotSegmentParams(t *testing.T) {
	for _, in := range []string{
		"/a/..;/b",
		"/..;/b",
		"/a/.;/b",
		"/a/..;x/b",
		"/a/%2e%2e;/b",
		"/a/..%3B/b",
		"/a/..%3b/b",
		"/a/%2e%2e%3bfoo/b",
		"/a/.%3B/b",
		"/a/%2E%3Bx",
	} {
		out, err := Canonicalize(in)
		if !errors.Is(err, ErrPath) {
			t.Errorf("Canonicalize(%q) = %q, %v; want a refusal (ErrPath)", in, out, err)
		}
	}
}
