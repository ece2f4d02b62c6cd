package proxy

import "strings"

// methodOverrideParam reports whether a raw query string carries a
// "_method" parameter, the method override that Rails, Laravel (Symfony's
// Request) and Express's method-override read to treat a POST as a PUT or
// DELETE. Gatehouse refuses such a request (400) rather than strip the
// parameter: the query string is forwarded exactly as sent, and a request
// that could be read with two methods is not one to guess about.
//
// Parameters are split at "&" and ";" (both separate parameters for some
// servers), and a name matches when, percent-decoded and ignoring case, it
// is "_method" or "_method[…]" (PHP's array form). PHP also reads ".method"
// and "[method" as "_method" and drops leading spaces, so those spellings
// are refused too.
func methodOverrideParam(q string) bool {
	for q != "" {
		var param string
		if i := strings.IndexAny(q, "&;"); i >= 0 {
			param, q = q[:i], q[i+1:]
		} else {
			param, q = q, ""
		}
		name, _, _ := strings.Cut(param, "=")
		if overrideName(name) {
			return true
		}
	}
	return false
}

// overrideName reports whether a raw query parameter name reads as
// "_method" (see methodOverrideParam). It decodes into a buffer on the
// stack just long enough to tell.
func overrideName(raw string) bool {
	var buf [len("_method[")]byte
	n := 0
	for i := 0; i < len(raw) && n < len(buf); i++ {
		c := raw[i]
		if c == '+' {
			c = ' '
		} else if c == '%' && i+2 < len(raw) {
			hi, ok1 := unhex(raw[i+1])
			lo, ok2 := unhex(raw[i+2])
			if ok1 && ok2 {
				c = hi<<4 | lo
				i += 2
			}
		}
		if n == 0 && c == ' ' {
			continue // PHP drops leading spaces from names
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	if n < len("_method") || (buf[0] != '_' && buf[0] != '.' && buf[0] != '[') {
		return false
	}
	return string(buf[1:7]) == "method" && (n == 7 || buf[7] == '[')
}
