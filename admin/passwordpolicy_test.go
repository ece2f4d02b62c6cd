package admin

import (
	"strings"
	"testing"
)

// TestPasswordPolicy: new passwords follow NIST SP 800-63B: long enough
// (counted in characters), not common (even with digits and symbols
// around), not repeated or sequential, not the username or the service's
// name; no composition rules.
func TestPasswordPolicy(t *testing.T) {
	for _, c := range []struct {
		pw, user, want string // want: part of the error, or "" for accepted
	}{
		{"password", "alice", "at least 12 characters"},
		{"12345678", "alice", "at least 12 characters"},
		{"aaaaaaaa", "alice", "at least 12 characters"},
		{"change-me", "alice", "at least 12 characters"},
		{"日本語のパスワードです", "alice", "at least 12 characters"}, // 11 characters, 33 bytes
		{"aaaaaaaaaaaa", "alice", "repeated or sequential"},
		{"abcabcabcabc", "alice", "repeated or sequential"},
		{"123456789012", "alice", "repeated or sequential"},
		{"abcdefghijkl", "alice", "repeated or sequential"},
		{"987654321098", "alice", "repeated or sequential"},
		{"1qaz2wsx3edc", "alice", "most common"},
		{"Password2024!", "alice", "most common"},
		{"!!Sunshine1234", "alice", "most common"},
		{"QWERTY12345678", "alice", "most common"},
		{"Alice-2024-!!", "alice", "must not be the username"},
		{"adminadmin12", "admin", "repeated or sequential"},
		{"alicealice123", "alice", "repeated or sequential"},
		{"passwordpassword1", "alice", "repeated or sequential"},
		{"abcdefghijkl1", "alice", "repeated or sequential"},
		{"0123456789ab", "alice", "repeated or sequential"},
		{"gatehouse12345", "alice", "service's name"},
		{strings.Repeat("x", maxPasswordLen) + "y", "alice", "at most"},
		// Accepted: long and unusual, whatever they are made of.
		{"correct-horse-battery", "alice", ""},
		{"alice-and-the-queen", "alice", ""},
		{"zoë ünd 李 sing", "alice", ""},
		{"monday blue 42", "alice", ""},
	} {
		err := validatePassword("password", c.pw, c.user)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q refused: %v", c.pw, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: %v, want %q", c.pw, err, c.want)
		case err != nil:
			wantField(t, err, "password")
		}
	}
	if n := len(commonPasswords()); n != 5000 {
		t.Errorf("%d common passwords embedded, want 5000", n)
	}
}
