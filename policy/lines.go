package policy

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
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

// ParseCSV reads Casbin CSV policy lines. Blank lines and lines starting
// with # are skipped. It returns every problem it finds, each a *LineError.
func ParseCSV(file string, data []byte) ([]Line, []error) {
	var (
		lines []Line
		errs  []error
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	num := 0
	for sc.Scan() {
		num++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		l, err := parseLine(text)
		if err != nil {
			errs = append(errs, &LineError{File: file, Num: num, Msg: err.Error()})
			continue
		}
		l.File, l.Num = file, num
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, &LineError{File: file, Num: num + 1, Msg: err.Error()})
	}
	return lines, errs
}

func parseLine(text string) (Line, error) {
	r := csv.NewReader(strings.NewReader(text))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err != nil && err != io.EOF {
		return Line{}, fmt.Errorf("malformed line: %v", err)
	}
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	if len(rec) < 2 {
		return Line{}, fmt.Errorf("malformed line %q: want a type and at least one value", text)
	}
	ptype := rec[0]
	if !validPtype(ptype) {
		return Line{}, fmt.Errorf("unknown line type %q: want p, g or a type the model defines", ptype)
	}
	for i, f := range rec[1:] {
		if f == "" {
			return Line{}, fmt.Errorf("value %d is empty", i+1)
		}
	}
	return Line{Ptype: ptype, Fields: rec[1:]}, nil
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
