package proxy

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// MaxPathLen bounds the request path.
const MaxPathLen = 8 << 10

// ErrPath is wrapped by every refusal of Canonicalize.
var ErrPath = errors.New("path refused")

func pathErr(msg string) error { return &pathError{msg} }

type pathError struct{ msg string }

func (e *pathError) Error() string { return e.msg }
func (e *pathError) Unwrap() error { return ErrPath }

// Canonicalize returns the one reading of an escaped request path that
// Gatehouse decides on and forwards: percent-escapes decoded, dot segments
// resolved, duplicate slashes merged (a trailing slash is kept). It refuses
// what an upstream could read another way: encoded "/" or "\" (any case),
// encoded dot segments, NUL and other control characters, "#" or "%23",
// a raw "\", double encoding ("%25" followed by hex), path parameters on
// dot segments ("..;"), invalid UTF-8, and ".." above the root.
//
// The common case, a path with nothing to decode or resolve, returns its
// input without allocating.
func Canonicalize(escaped string) (string, error) {
	if escaped == "" || escaped[0] != '/' {
		return "", pathErr("the path must start with /")
	}
	if len(escaped) > MaxPathLen {
		return "", pathErr("the path is too long")
	}
	work := false
	for i := 0; i < len(escaped); i++ {
		switch c := escaped[i]; {
		case c == '\\':
			return "", pathErr(`a raw "\" in the path`)
		case c == '#':
			return "", pathErr(`"#" in the path`)
		case c < 0x20 || c == 0x7f:
			return "", pathErr("a control character in the path")
		case c == '%' || c >= 0x80:
			work = true
		case c == '/' && i+1 < len(escaped) && (escaped[i+1] == '/' || dotSegmentAt(escaped, i+1)):
			work = true
		}
	}
	if !work {
		return escaped, nil
	}
	return canonicalizeSlow(escaped)
}

// dotSegmentAt reports whether the segment that starts at s[i] is "." or
// "..", with or without a path parameter. A segment that merely starts
// with a dot, such as ".well-known", is a name and keeps the fast path.
func dotSegmentAt(s string, i int) bool {
	if s[i] != '.' {
		return false
	}
	i++
	if i < len(s) && s[i] == '.' {
		i++
	}
	return i == len(s) || s[i] == '/' || s[i] == ';'
}

func canonicalizeSlow(escaped string) (string, error) {
	raw := strings.Split(escaped[1:], "/")
	out := make([]string, 0, len(raw))
	trailing := false
	for i, rs := range raw {
		last := i == len(raw)-1
		seg, err := decodeSegment(rs)
		if err != nil {
			return "", err
		}
		trailing = false
		switch seg {
		case "":
			trailing = last
		case ".":
			trailing = last
		case "..":
			if len(out) == 0 {
				return "", pathErr(`".." above the root`)
			}
			out = out[:len(out)-1]
			trailing = last
		default:
			out = append(out, seg)
		}
	}
	var b strings.Builder
	b.Grow(len(escaped))
	for _, s := range out {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if trailing || len(out) == 0 {
		b.WriteByte('/')
	}
	return b.String(), nil
}

// decodeSegment decodes one escaped segment and refuses what could be read
// two ways.
func decodeSegment(rs string) (string, error) {
	seg := rs
	if strings.Contains(rs, "%") {
		var err error
		if seg, err = unescape(rs); err != nil {
			return "", err
		}
		if seg == "." || seg == ".." {
			return "", pathErr("an encoded dot segment")
		}
	} else if !utf8.ValidString(rs) {
		return "", pathErr("invalid UTF-8 in the path")
	}
	// A servlet container reads "..;x" as "..". The check runs on the
	// decoded segment because a decoded ";" is forwarded as a raw ";", so
	// "..%3B" would otherwise be decided as a name and read upstream as "..".
	if base, _, hasParam := strings.Cut(seg, ";"); hasParam && (base == "." || base == "..") {
		return "", pathErr(`path parameters on a dot segment ("..;")`)
	}
	return seg, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func unescape(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return "", pathErr("a malformed percent-escape")
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", pathErr("a malformed percent-escape")
		}
		d := hi<<4 | lo
		switch {
		case d == '/' || d == '\\':
			return "", pathErr(`an encoded "/" or "\" in the path`)
		case d == '#':
			return "", pathErr(`an encoded "#" in the path`)
		case d < 0x20 || d == 0x7f:
			return "", pathErr("an encoded control character in the path")
		}
		b.WriteByte(d)
		i += 2
	}
	out := b.String()
	if !utf8.ValidString(out) {
		return "", pathErr("invalid UTF-8 in the path")
	}
	if doubleEncoded(out) {
		return "", pathErr("a double-encoded path")
	}
	return out, nil
}

// doubleEncoded reports whether a decoded segment still holds a
// percent-escape, which an upstream that decodes twice would read as
// another character.
func doubleEncoded(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '%' {
			if _, ok := unhex(s[i+1]); ok {
				if _, ok := unhex(s[i+2]); ok {
					return true
				}
			}
		}
	}
	return false
}
