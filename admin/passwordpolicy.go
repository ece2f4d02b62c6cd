package admin

import (
	_ "embed"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// New passwords follow NIST SP 800-63B (section 5.1.1.2): a minimum length
// and no composition rules, but no password that is common, repetitive or
// sequential, or that is the username or the service's name with digits or
// symbols around it. Existing
// passwords keep working (earlier versions took 8 characters): a login
// only checks the hash.
const (
	// MinPasswordLen is the least number of characters of a new password.
	MinPasswordLen = 12
	maxPasswordLen = 1024
)

//go:embed common-passwords.txt
var commonPasswordsFile string

// commonPasswords is the embedded list as a set, built on first use.
var commonPasswords = sync.OnceValue(func() map[string]bool {
	set := make(map[string]bool, 5000)
	for _, l := range strings.Split(commonPasswordsFile, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			set[l] = true
		}
	}
	return set
})

// validatePassword checks a new password (field names it in the error) for
// the user called username.
func validatePassword(field, pw, username string) error {
	lower := strings.ToLower(pw)
	switch {
	case len(pw) > maxPasswordLen:
		return fieldErr(field, "must be at most %d characters", maxPasswordLen)
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return fieldErr(field, "must be at least %d characters", MinPasswordLen)
	case isCommonPassword(lower):
		return fieldErr(field, "is one of the most common passwords; choose another")
	case slices.ContainsFunc(patternViews(lower), func(v string) bool { return repetitive(v) || sequential(v) }):
		return fieldErr(field, "is a repeated or sequential string; choose another")
	case passwordCore(lower) == strings.ToLower(username):
		return fieldErr(field, "must not be the username")
	case passwordCore(lower) == "gatehouse":
		return fieldErr(field, "must not be the service's name")
	case strings.HasPrefix(pw, KeyPrefix):
		// A login whose password starts so is an API key trade.
		return fieldErr(field, "must not start with %q, the prefix of API keys", KeyPrefix)
	}
	return nil
}

// passwordCore is a password without the digits and symbols people add at
// either end: "Password2024!" is "password" (pw is in lower case).
func passwordCore(pw string) string {
	return strings.TrimFunc(pw, func(r rune) bool { return !unicode.IsLetter(r) })
}

// isCommonPassword reports whether pw (lower case), or its core, is a
// common password.
func isCommonPassword(pw string) bool {
	if commonPasswords()[pw] {
		return true
	}
	core := passwordCore(pw)
	return len(core) >= 4 && commonPasswords()[core]
}

// patternViews are the forms of a password (lower case) that must not be
// repeated or sequential: the password, its core, and the password
// without up to three characters at either end, as long as eight remain
// ("adminadmin12", "abcdefghijkl1" and "0123456789ab" are patterns too).
func patternViews(pw string) []string {
	views := []string{pw, passwordCore(pw)}
	for k := 1; k <= 3 && len(pw)-k >= 8; k++ {
		views = append(views, pw[k:], pw[:len(pw)-k])
	}
	return views
}

// repetitive reports whether s is one short unit repeated
// ("aaaaaaaaaaaa", "abcabcabcabc", "123412341234").
func repetitive(s string) bool {
	for n := 1; n <= len(s)/2; n++ {
		if len(s)%n == 0 && strings.Repeat(s[:n], len(s)/n) == s {
			return true
		}
	}
	return false
}

// sequential reports whether every character of s follows the one before
// it up or down by one ("abcdefghijkl", "987654321098": the digits wrap).
func sequential(s string) bool {
	if len(s) < 3 {
		return false
	}
	step := func(a, b byte) int {
		d := int(b) - int(a)
		switch {
		case isDigit(a) && isDigit(b) && d == -9:
			return 1
		case isDigit(a) && isDigit(b) && d == 9:
			return -1
		}
		return d
	}
	dir := step(s[0], s[1])
	if dir != 1 && dir != -1 {
		return false
	}
	for i := 2; i < len(s); i++ {
		if step(s[i-1], s[i]) != dir {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
