package proxy

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
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

// plainPaths need no decoding or resolving: Canonicalize returns them as
// they are, without allocating.
var plainPaths = []string{
	"/",
	"/api/v1/pipelines",
	"/api/v1/users/alice",
	"/api/v1/users/alice/",
	"/a.b/c..d/f.",
	"/.well-known/openid-configuration",
	"/a/.e/..f/.../x.;y",
	"/a;b/c:d@e/f=g,h+i",
	"/~user/x-y_z/!$&'()*",
	"/health",
}

func TestCanonicalizePlain(t *testing.T) {
	for _, in := range plainPaths {
		out, err := Canonicalize(in)
		if err != nil || out != in {
			t.Errorf("Canonicalize(%q) = %q, %v; want it unchanged", in, out, err)
		}
	}
}

func TestCanonicalizePlainAllocs(t *testing.T) {
	for _, in := range plainPaths {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := Canonicalize(in); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("Canonicalize(%q) allocates %v times per call; want 0", in, allocs)
		}
	}
}

func TestCanonicalizeResolves(t *testing.T) {
	cases := []struct{ in, want string }{
		// Dot segments.
		{"/api/v1/users/alice/../bob", "/api/v1/users/bob"},
		{"/a/./b", "/a/b"},
		{"/a/b/.", "/a/b/"},
		{"/a/b/..", "/a/"},
		{"/a/..", "/"},
		{"/.", "/"},
		{"/./", "/"},
		{"/a/b/../c/", "/a/c/"},
		{"/a/../b/../c", "/c"},
		{"/./a/./b/./", "/a/b/"},
		// Duplicate slashes, a trailing slash kept.
		{"//a///b", "/a/b"},
		{"//", "/"},
		{"///", "/"},
		{"/a//", "/a/"},
		{"//a/b//", "/a/b/"},
		{"/a//../b", "/b"},
		{"//gatehouse/v1/users", "/gatehouse/v1/users"},
		// Decoding.
		{"/a%20b", "/a b"},
		{"/caf%C3%A9", "/café"},
		{"/caf%c3%a9", "/café"},
		{"/café", "/café"},
		{"/%7Euser", "/~user"},
		{"/100%25", "/100%"},
		{"/a%3Bb", "/a;b"},
		{"/a%3Fb", "/a?b"},
		{"/%41%62c", "/Abc"},
		{"/a/.../b", "/a/.../b"},
		{"/a/%2e%2e%2e/b", "/a/.../b"},
	}
	for _, c := range cases {
		got, err := Canonicalize(c.in)
		if err != nil || got != c.want {
			t.Errorf("Canonicalize(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// refusedPaths are paths an upstream could read another way than
// Gatehouse, each of which Canonicalize must refuse (PRODUCT.md, "Security
// invariants").
var refusedPaths = []struct{ name, in string }{
	{"empty", ""},
	{"relative", "a/b"},
	{"asterisk", "*"},
	{"too long", "/" + strings.Repeat("a", MaxPathLen)},

	{"encoded slash lower", "/a%2fb"},
	{"encoded slash upper", "/a%2Fb"},
	{"encoded backslash lower", "/a%5cb"},
	{"encoded backslash upper", "/a%5Cb"},
	{"encoded slash alone", "/%2F"},
	{"encoded slash then dots", "/a/%2f/../b"},
	{"encoded slash dot dot", "/api/v1/users/alice%2F..%2Fbob"},

	{"encoded dot", "/%2e"},
	{"encoded dot upper", "/a/%2E/b"},
	{"encoded dot dot", "/a/%2e%2e/b"},
	{"encoded dot dot mixed case", "/a/%2E%2e"},
	{"half encoded dot dot", "/a/.%2e/b"},
	{"half encoded dot dot 2", "/a/%2e./b"},
	{"encoded dot dot then dots", "/a/%2e%2e/../b"},

	{"raw NUL", "/a\x00b"},
	{"raw LF", "/a\nb"},
	{"raw CR", "/a\rb"},
	{"raw tab", "/a\tb"},
	{"raw DEL", "/a\x7fb"},
	{"raw US", "/a\x1fb"},
	{"encoded NUL", "/a%00b"},
	{"encoded LF", "/a%0ab"},
	{"encoded CR", "/a%0Db"},
	{"encoded tab", "/a%09b"},
	{"encoded DEL", "/a%7fb"},
	{"encoded US", "/a%1F"},

	{"raw hash", "/a#b"},
	{"encoded hash", "/a%23b"},
	{"raw backslash", "/a\\b"},
	{"raw backslash dots", "/a/..\\b"},

	{"double encoded slash", "/a%252Fb"},
	{"double encoded slash lower", "/a%252fb"},
	{"double encoded backslash", "/%255C"},
	{"double encoded dots", "/%252e%252e/x"},
	{"encoded escape of slash", "/a%25%32%46b"},
	{"encoded escape of slash lower", "/a%25%32%66"},

	{"dot dot param", "/a/..;/b"},
	{"dot dot param at root", "/..;/b"},
	{"dot param", "/a/.;/b"},
	{"encoded dot dot param", "/a/%2e%2e;/b"},
	{"dot dot encoded param", "/a/..%3B/b"},

	{"overlong slash", "/a%c0%afb"},
	{"overlong dots", "/%c0%ae%c0%ae/x"},
	{"overlong slash 3 bytes", "/%e0%80%af"},
	{"surrogate", "/%ed%a0%80"},
	{"encoded 0xff", "/%ff"},
	{"raw overlong", "/a/\xc0\xaf"},
	{"raw 0xff", "/\xff"},
	{"truncated UTF-8", "/caf%C3"},

	{"above root", "/.."},
	{"above root then name", "/../a"},
	{"above root after pop", "/a/../.."},
	{"above root from dot", "/./.."},
	{"above root deep", "/a/../../b"},
	{"above root trailing", "/../"},

	{"percent at end", "/a%"},
	{"short escape", "/a%4"},
	{"non-hex escape", "/a%zz"},
	{"non-hex escape 2", "/a%g0/b"},
}

func TestCanonicalizeRefuses(t *testing.T) {
	for _, c := range refusedPaths {
		out, err := Canonicalize(c.in)
		if !errors.Is(err, ErrPath) {
			t.Errorf("%s: Canonicalize(%q) = %q, %v; want a refusal (ErrPath)", c.name, c.in, out, err)
		}
		if out != "" {
			t.Errorf("%s: Canonicalize(%q) returned %q with its refusal; want \"\"", c.name, c.in, out)
		}
	}
}

// TestCanonicalizeLength checks the bound on the path: MaxPathLen bytes
// pass, one more is refused.
func TestCanonicalizeLength(t *testing.T) {
	at := "/" + strings.Repeat("a", MaxPathLen-1)
	if out, err := Canonicalize(at); err != nil || out != at {
		t.Errorf("a path of MaxPathLen bytes: %v; want it unchanged", err)
	}
	if _, err := Canonicalize(at + "a"); !errors.Is(err, ErrPath) {
		t.Errorf("a path of MaxPathLen+1 bytes: %v; want a refusal", err)
	}
}

// escapePath escapes a canonical path as the forwarded request carries it.
func escapePath(p string) string { return (&url.URL{Path: p}).EscapedPath() }

// FuzzCanonicalize checks the invariants of every path Canonicalize
// accepts: it is absolute, has no empty, "." or ".." segment (a trailing
// slash aside), no control character, "\" or "#", is valid UTF-8, and
// reads the same when canonicalized again in the escaped form it is
// forwarded in. Refusals wrap ErrPath; nothing panics.
func FuzzCanonicalize(f *testing.F) {
	for _, p := range plainPaths {
		f.Add(p)
	}
	for _, c := range refusedPaths {
		if len(c.in) < 256 {
			f.Add(c.in)
		}
	}
	for _, p := range []string{
		"/api/v1/users/alice/../bob", "//a///b", "/a/b/.", "/a%20b", "/caf%C3%A9",
		"/100%25", "/a%3Bb", "/a/..%3B/b", "/x/%2e%2e%3bfoo/y", "/;/../a", "/a%3B/..",
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Canonicalize(in)
		if err != nil {
			if !errors.Is(err, ErrPath) {
				t.Fatalf("Canonicalize(%q): error %v does not wrap ErrPath", in, err)
			}
			if out != "" {
				t.Fatalf("Canonicalize(%q) returned %q with its error", in, out)
			}
			return
		}
		if !strings.HasPrefix(out, "/") {
			t.Fatalf("Canonicalize(%q) = %q: not absolute", in, out)
		}
		if strings.Contains(out, "//") {
			t.Fatalf("Canonicalize(%q) = %q: holds \"//\"", in, out)
		}
		if !utf8.ValidString(out) {
			t.Fatalf("Canonicalize(%q) = %q: invalid UTF-8", in, out)
		}
		if strings.ContainsAny(out, "\\#\x7f") || strings.ContainsFunc(out, func(r rune) bool { return r < 0x20 }) {
			t.Fatalf("Canonicalize(%q) = %q: holds a refused character", in, out)
		}
		for _, seg := range strings.Split(out[1:], "/") {
			base, _, _ := strings.Cut(seg, ";")
			if base == "." || base == ".." {
				t.Fatalf("Canonicalize(%q) = %q: holds the dot segment %q", in, out, seg)
			}
		}
		esc := escapePath(out)
		if len(esc) > MaxPathLen {
			return // escaping raw UTF-8 can outgrow the bound
		}
		again, err := Canonicalize(esc)
		if err != nil || again != out {
			t.Fatalf("not idempotent: Canonicalize(%q) = %q, escaped %q, canonicalized again = %q, %v", in, out, esc, again, err)
		}
	})
}

func BenchmarkCanonicalize(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"plain", "/api/v1/pipelines/3f2a9c/runs"},
		{"dots", "/api/v1/users/alice/../bob"},
		{"slashes", "//api///v1//pipelines/"},
		{"escaped", "/api/v1/pipelines/caf%C3%A9%20x"},
		{"refused", "/api/v1/users/alice%2F..%2Fbob"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Canonicalize(bc.in)
			}
		})
	}
}
