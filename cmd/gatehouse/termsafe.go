package main

import (
	"fmt"
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
