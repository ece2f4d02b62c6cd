package policy

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// OriginDatabase is the origin of lines written through the admin API.
const OriginDatabase = "database"

// Line is one policy line: a p or g line and where it comes from.
type Line struct {
	Ptype  string   // "p", "g", "g2", ...
	Fields []string // the values after the type
	File   string   // file the line was read from; "" for the database
	Num    int      // line number in File
}

// Origin says where the line comes from: "FILE:LINE" or "database".
func (l Line) Origin() string {
	if l.File == "" {
		return OriginDatabase
	}
	return fmt.Sprintf("%s:%d", l.File, l.Num)
}

// FromFile reports whether the line comes from a policy file (or the
// embedded defaults), which makes it read-only through the API.
func (l Line) FromFile() bool { return l.File != "" }

// String renders the line as Casbin CSV.
func (l Line) String() string {
	return l.Ptype + ", " + strings.Join(l.Fields, ", ")
}

// CSV renders the line as a Casbin CSV record that ParseCSV reads back
// to the same line: values holding a comma or a quote are quoted.
func (l Line) CSV() string {
	var b strings.Builder
	b.WriteString(l.Ptype)
	for _, f := range l.Fields {
		b.WriteString(", ")
		if strings.ContainsAny(f, ",\"") {
			b.WriteString(`"` + strings.ReplaceAll(f, `"`, `""`) + `"`)
		} else {
			b.WriteString(f)
		}
	}
	return b.String()
}

// key identifies a line's content, whatever its origin.
func (l Line) key() string {
	return l.Ptype + "\x00" + strings.Join(l.Fields, "\x00")
}

// keySet holds the database layer as line keys only: a key holds a line's
// whole content, so nothing else is kept per line, and the parents map
// refers to substrings of the keys. At 300 000 lines this is the
// difference between a key and a key plus a Line with its own strings.
type keySet map[string]struct{}

// lineOf rebuilds a line from its key (allocating; for rare paths).
func lineOf(k string) Line {
	parts := strings.Split(k, "\x00")
	return Line{Ptype: parts[0], Fields: parts[1:]}
}

// edgeOf returns the child and parent of a key of a 2-value g line, as
// substrings of the key.
func edgeOf(k string) (child, parent string, ok bool) {
	rest, ok := strings.CutPrefix(k, "g\x00")
	if !ok {
		return "", "", false
	}
	child, parent, ok = strings.Cut(rest, "\x00")
	if !ok || strings.IndexByte(parent, 0) >= 0 {
		return "", "", false
	}
	return child, parent, true
}

func (l Line) errorf(format string, args ...any) error {
	return &LineError{File: l.File, Num: l.Num, Msg: fmt.Sprintf(format, args...)}
}

// LineError is a problem with one line of a policy file.
type LineError struct {
	File string // the file's name as given to the loader
	Num  int    // the line number, from 1; 0 when no line can be named
	Msg  string
	Err  error // the kind of problem, for errors.Is; may be nil
}

// Unwrap returns the kind of problem.
func (e *LineError) Unwrap() error { return e.Err }

func (e *LineError) Error() string {
	if e.File == "" {
		return e.Msg
	}
	if e.Num == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Num, e.Msg)
}

// ParseCSV reads Casbin CSV policy lines exactly as Casbin's file adapter
// reads them (persist.LoadPolicyLine: each line trimmed, blank lines and
// lines starting with # skipped, then one CSV record with leading spaces
// of each value trimmed), in one pass. Where Casbin would read a line
// otherwise than a reader would expect, the line is refused rather than
// read another way: a value that ends in a space (Casbin keeps it), a line
// type followed by a space, an empty value, a line Casbin's reader cannot
// read. Every problem is a *LineError.
func ParseCSV(file string, data []byte) ([]Line, []error) {
	return parseText(file, string(data)) // one copy: every value is a substring of it
}

// parseText is ParseCSV of a string: the lines' values are substrings of
// text.
func parseText(file, text string) ([]Line, []error) {
	n := strings.Count(text, "\n") + 1
	var (
		lines = make([]Line, 0, n)
		slab  = make([]string, 0, 4*n) // the lines' values, four to a line as a rule
		errs  []error
	)
	for num := 1; text != ""; num++ {
		var raw string
		raw, text, _ = strings.Cut(text, "\n")
		if len(raw) > maxLineBytes {
			errs = append(errs, &LineError{File: file, Num: num, Msg: fmt.Sprintf("line longer than %d bytes, which Casbin's file adapter cannot read", maxLineBytes)})
			continue
		}
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' {
			continue
		}
		start := len(slab)
		var err error
		if slab, err = splitRecord(line, slab); err == nil {
			err = checkRecord(slab[start:])
		}
		if err != nil {
			slab = slab[:start]
			errs = append(errs, &LineError{File: file, Num: num, Msg: err.Error()})
			continue
		}
		rec := slab[start:len(slab):len(slab)] // full: an append to Fields never writes into the next line's values
		lines = append(lines, Line{Ptype: rec[0], Fields: rec[1:], File: file, Num: num})
	}
	return lines, errs
}

// maxLineBytes is the longest line Casbin's file adapter reads (its
// bufio.Scanner's default limit).
const maxLineBytes = bufio.MaxScanTokenSize - 1

var (
	errBareQuote = errors.New(`malformed line: bare " in a value; quote the whole value ("a ""b"" c")`)
	errQuote     = errors.New(`malformed line: extraneous or missing " in a quoted value`)
)

// splitRecord appends the values of one CSV line to dst, as encoding/csv
// reads a record with Comma ',' and TrimLeadingSpace (Casbin's settings):
// leading white space of a value is dropped; a value that starts with " is
// quoted ("" stands for ", and the closing quote must end the value); an
// unquoted value may not hold a quote.
func splitRecord(line string, dst []string) ([]string, error) {
	for {
		line = strings.TrimLeftFunc(line, unicode.IsSpace)
		if !strings.HasPrefix(line, `"`) {
			field, rest, more := strings.Cut(line, ",")
			if strings.IndexByte(field, '"') >= 0 {
				return dst, errBareQuote
			}
			dst = append(dst, field)
			if !more {
				return dst, nil
			}
			line = rest
			continue
		}
		// A quoted value.
		var b strings.Builder
		quoted := false
		i := 1
		for {
			j := strings.IndexByte(line[i:], '"')
			if j < 0 {
				return dst, errQuote // the line ends inside the quotes
			}
			j += i
			if j+1 < len(line) && line[j+1] == '"' { // "" inside
				b.WriteString(line[i : j+1])
				quoted = true
				i = j + 2
				continue
			}
			var field string
			if quoted {
				b.WriteString(line[i:j])
				field = b.String()
			} else {
				field = line[i:j] // no "" inside: a substring, no copy
			}
			dst = append(dst, field)
			switch rest := line[j+1:]; {
			case rest == "":
				return dst, nil
			case rest[0] == ',':
				line = rest[1:]
			default:
				return dst, errQuote
			}
			break
		}
	}
}

// checkRecord refuses a record that Casbin reads otherwise than it looks,
// or that Gatehouse cannot take: too short, an unknown line type, a line
// type or value that ends in white space (Casbin keeps it, so "read " is
// not "read"), an empty value.
func checkRecord(rec []string) error {
	if len(rec) < 2 {
		return fmt.Errorf("malformed line: want a type and at least one value")
	}
	ptype := rec[0]
	if strings.TrimRightFunc(ptype, unicode.IsSpace) != ptype {
		return fmt.Errorf("line type %q ends in a space, which Casbin keeps and then cannot find the type; remove it", ptype)
	}
	if !validPtype(ptype) {
		return fmt.Errorf("unknown line type %q: want p, g or a type the model defines", ptype)
	}
	for i, f := range rec[1:] {
		switch {
		case f == "":
			return fmt.Errorf("value %d is empty", i+1)
		case strings.TrimRightFunc(f, unicode.IsSpace) != f:
			return fmt.Errorf("value %d %q ends in a space, which Casbin keeps (%q is not %q); remove it",
				i+1, f, f, strings.TrimRightFunc(f, unicode.IsSpace))
		}
	}
	return nil
}

func validPtype(s string) bool {
	if s == "" || len(s) > 8 || (s[0] != 'p' && s[0] != 'g') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
