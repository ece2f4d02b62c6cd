package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// termSafe escapes the runes that must not reach a terminal raw
// (admin.UnsafeRune: control characters, which a terminal takes as
// commands, and bidirectional controls, which make text read as other
// text) as \uXXXX. Server answers are printed through it; keep lists the
// runes left as they are (a newline in a multi-line message).
func termSafe(s string, keep ...rune) string {
	unsafe := func(r rune) bool { return admin.UnsafeRune(r) && !strings.ContainsRune(string(keep), r) }
	if strings.IndexFunc(s, unsafe) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unsafe(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// termWriter passes writes on with termSafe applied, keeping newlines,
// tabs and carriage returns: every line the CLI prints goes through one,
// so no message built from what a server sent can drive the terminal.
// Writes are whole strings (fmt, tabwriter and slog write whole lines),
// so a rune is never split between two writes.
type termWriter struct{ w io.Writer }

func (t termWriter) Write(p []byte) (int, error) {
	if bytes.IndexFunc(p, unsafeOutput) < 0 {
		return t.w.Write(p) // the usual case: nothing to escape, nothing copied
	}
	if _, err := io.WriteString(t.w, termSafe(string(p), '\n', '\t', '\r')); err != nil {
		return 0, err
	}
	return len(p), nil
}

func unsafeOutput(r rune) bool { return admin.UnsafeRune(r) && r != '\n' && r != '\t' && r != '\r' }
