package admin

import "testing"

// What this directory's external tests (package admin_test) borrow from
// the token fixture: they drive the HTTP face (admin/api), which imports
// this package, with tokens only this package's tests can forge.

// TokenCase is a named token.
type TokenCase struct{ Name, Token string }

// TokenCases returns the token fixture's service (root, an admin, and bob,
// a guest), bob's valid token, and every token Authenticate must refuse
// (badTokens).
func TokenCases(tb testing.TB) (svc *Service, bobToken string, bad []TokenCase) {
	tb.Helper()
	f := newTokenFixture(tb)
	for _, c := range badTokens(tb, f) {
		bad = append(bad, TokenCase{Name: c.name, Token: c.token})
	}
	return f.svc, f.bobTok, bad
}
