package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// segKind is the kind of one segment of a path pattern.
type segKind uint8

const (
	segLiteral   segKind = iota // matches itself
	segParam                    // {name} or :name, one non-empty segment
	segSelf                     // {self}, the caller's own username or user id
	segWorkspace                // {workspace}, one non-empty segment: the request's workspace
	segStar                     // *, the rest of the path (last segment only)
)

// segment is one compiled segment of a path pattern.
type segment struct {
	kind segKind
	text string // the literal text for segLiteral
}

// pattern is a compiled path pattern of a p line.
//
// The grammar: a pattern starts with "/" and is a sequence of segments
// separated by "/", each one of
//
//	literal  text without { } * : % \ ? # or control characters, not "." or
//	         ".."; matches itself (an empty literal only as the last
//	         segment: "/api/" matches "/api/" alone)
//	:name    one non-empty segment; name is [A-Za-z0-9_]+
//	{name}   the same
//	{self}   one segment equal to the caller's own username or user id
//	{workspace}
//	         one non-empty segment, like {name}, that names the request's
//	         workspace: roles assigned for that workspace (g2 lines) apply
//	         to the rule; at most once in a pattern
//	*        the last segment only: the rest of the path, possibly empty,
//	         so "/api/*" matches "/api/" and "/api/a/b" but not "/api"
//
// Casbin's functions read the same text otherwise where a literal holds a
// regular expression's metacharacter (keyMatch2, 3 and 4 build a regular
// expression from the pattern, so "." matches any character) and where a
// parameter name repeats (keyMatch4 wants the same value for both). On
// canonical paths (no control characters) and patterns without {self},
// TestPatternsAgreeWithKeyMatch checks that a pattern
//
//   - with no parameter is decided as by keyMatch;
//   - whose parameters are :name, and whose literals hold none of
//     . + ( ) [ ] ^ $ |, is decided as by keyMatch2;
//   - whose parameters are {name}, with the same literals, is decided as by
//     keyMatch3, and, when no name repeats, as by keyMatch4.
type pattern struct {
	text string
	segs []segment
	wsAt int // index of the {workspace} segment, -1 for none
}

// errPattern wraps every pattern syntax error.
var errPattern = errors.New("invalid path pattern")

// compilePattern parses a path pattern.
func compilePattern(s string) (*pattern, error) {
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("%w %q: must start with /", errPattern, s)
	}
	parts := strings.Split(s[1:], "/")
	p := &pattern{text: s, segs: make([]segment, 0, len(parts)), wsAt: -1}
	for i, part := range parts {
		last := i == len(parts)-1
		seg, err := compileSegment(part, last)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %v", errPattern, s, err)
		}
		if seg.kind == segWorkspace {
			if p.wsAt >= 0 {
				return nil, fmt.Errorf("%w %q: {workspace} appears twice; a request is about one workspace", errPattern, s)
			}
			p.wsAt = i
		}
		p.segs = append(p.segs, seg)
	}
	return p, nil
}

// workspace returns the segment of path at p's {workspace} parameter: the
// workspace a request that p matches is about. It is "" when p has no
// {workspace} or path has no such segment.
func (p *pattern) workspace(path string) string {
	at := p.wsAt
	if at < 0 || !strings.HasPrefix(path, "/") {
		return ""
	}
	rest := path[1:]
	for i := 0; ; i++ {
		part, tail, more := strings.Cut(rest, "/")
		if i == at {
			return part
		}
		if !more {
			return ""
		}
		rest = tail
	}
}

func compileSegment(part string, last bool) (segment, error) {
	switch {
	case part == "*":
		if !last {
			return segment{}, errors.New(`"*" is only allowed as the last segment`)
		}
		return segment{kind: segStar}, nil
	case part == "{self}":
		return segment{kind: segSelf}, nil
	case part == "{workspace}":
		return segment{kind: segWorkspace}, nil
	case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") && validParamName(part[1:len(part)-1]):
		return segment{kind: segParam}, nil
	case strings.HasPrefix(part, ":") && validParamName(part[1:]):
		return segment{kind: segParam}, nil
	case part == "" && !last:
		return segment{}, errors.New("empty segment (//)")
	case part == "." || part == "..":
		return segment{}, errors.New("dot segment")
	case strings.ContainsAny(part, "{}*:%\\?#") || hasControl(part):
		return segment{}, fmt.Errorf("segment %q: use a whole segment {name}, :name or a final *", part)
	}
	return segment{kind: segLiteral, text: part}, nil
}

func validParamName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// match reports whether the canonical path matches p for a caller whose own
// names are self1 and self2 (either may be empty).
func (p *pattern) match(path string, self1, self2 string) bool {
	if !strings.HasPrefix(path, "/") {
		return false
	}
	rest := path[1:]
	for i, seg := range p.segs {
		if seg.kind == segStar {
			return true // a segment, possibly empty, remains
		}
		part, tail, more := strings.Cut(rest, "/")
		if !seg.matches(part, self1, self2) {
			return false
		}
		last := i == len(p.segs)-1
		if last {
			return !more
		}
		if !more {
			// The path ended; only a following "*" could still match, and
			// it needs one more segment.
			return false
		}
		rest = tail
	}
	return false
}

func (s segment) matches(part, self1, self2 string) bool {
	switch s.kind {
	case segLiteral:
		return part == s.text
	case segParam, segWorkspace:
		return part != ""
	case segSelf:
		return part != "" && (part == self1 || part == self2)
	}
	return false
}

// Method indexes of the compiled index. HEAD is decided as GET: a HEAD
// request is allowed exactly where a GET is.
const (
	mGET = iota
	mPOST
	mPUT
	mPATCH
	mDELETE
	mOPTIONS
	mTRACE
	mCONNECT
	numStdMethods
)

var stdMethods = [numStdMethods]string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}

// starMethods are the methods a "*" in a rule's method list stands for.
// OPTIONS, TRACE and CONNECT need a rule that names them; any other method
// cannot be named (see httpMethods), so it is always denied.
var starMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// decisionMethod returns the method a request is decided as.
func decisionMethod(m string) string {
	if m == "HEAD" {
		return "GET"
	}
	return m
}

// httpMethods are the methods a rule, a test case or policy check may
// name: those of the IANA HTTP Method Registry (RFC 9110's, PATCH, and
// WebDAV's and its extensions'), but PRI, which is HTTP/2's connection
// preface and never a request. Any other name in a policy is a typo
// (FETCH, GTE) or a method of one product (PURGE) that would open nothing
// or too much by surprise, so it is refused; a request with any other
// method is denied, since no rule can name it.
var httpMethods = []string{
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
	"ACL", "BASELINE-CONTROL", "BIND", "CHECKIN", "CHECKOUT", "COPY", "LABEL", "LINK", "LOCK",
	"MERGE", "MKACTIVITY", "MKCALENDAR", "MKCOL", "MKREDIRECTREF", "MKWORKSPACE", "MOVE",
	"ORDERPATCH", "PROPFIND", "PROPPATCH", "REBIND", "REPORT", "SEARCH", "UNBIND", "UNCHECKOUT",
	"UNLINK", "UNLOCK", "UPDATE", "UPDATEREDIRECTREF", "VERSION-CONTROL",
}

// MethodsWanted says which methods are accepted, for messages.
const MethodsWanted = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT or another method of the IANA HTTP method registry (WebDAV's PROPFIND, MKCOL, …)"

// ValidMethod reports whether m is one of the HTTP methods a policy may
// name (upper case, as requests carry them).
func ValidMethod(m string) bool { return slices.Contains(httpMethods, m) }

// MethodError describes the method m of a request (a test case, policy
// check), which ValidMethod refused.
func MethodError(m string) string {
	return fmt.Sprintf("invalid method %q: %s", m, methodHint(m, ""))
}

// methodHint says what is wrong with m: a lower-case spelling of a
// method, or a name outside the list (then what is accepted, and more).
func methodHint(m, more string) string {
	if up := strings.ToUpper(m); up != m && ValidMethod(up) {
		return fmt.Sprintf("methods are upper case (%s)", up)
	}
	return "want " + MethodsWanted + more
}

// parseMethods parses a rule's method list ("GET|HEAD", "*", "POST") and
// returns the methods it opens. A HEAD request is decided as GET, so HEAD
// in a list opens nothing of its own (it reads as a reminder that GET
// covers it), and a list of HEAD alone is refused: it would open nothing,
// and must never open GET.
func parseMethods(s string) ([]string, error) {
	if s == "" {
		return nil, errors.New("empty method list")
	}
	var out []string
	for _, tok := range strings.Split(s, "|") {
		tok = strings.TrimSpace(tok)
		switch {
		case tok == "*":
			out = append(out, starMethods...)
		case tok == "HEAD":
		case ValidMethod(tok):
			out = append(out, tok)
		default:
			return nil, fmt.Errorf("invalid method %q in %q: %s", tok, s, methodHint(tok, ", or * ("+strings.Join(starMethods, ", ")+"), several separated by |"))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("method list %q opens nothing: HEAD is decided as GET, so name GET", s)
	}
	return out, nil
}

// methodMatch reports whether the request method m (already folded: a HEAD
// request arrives as GET) is in the rule's method list. A HEAD in the list
// matches nothing: only GET opens HEAD.
func methodMatch(m, list string) bool {
	for list != "" {
		var tok string
		tok, list, _ = strings.Cut(list, "|")
		tok = strings.TrimSpace(tok)
		if tok == "*" {
			for _, s := range starMethods {
				if s == m {
					return true
				}
			}
			continue
		}
		if tok == m && tok != "HEAD" {
			return true
		}
	}
	return false
}
