package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// TestSignupPageReferrerPolicy: the sign-up page must keep its URL (which
// holds the invitation token) out of Referer headers without making
// browsers send "Origin: null" on the form post. Under "no-referrer"
// Chromium sends Origin: null, sameOrigin refuses it, and no browser can
// sign up (TestSignupPageInBrowser in cmd/gatehouse shows it end to end).
func TestSignupPageReferrerPolicy(t *testing.T) {
	base, tok := startMessagesAPI(t)
	req, _ := http.NewRequest(http.MethodPost, base+"/users", strings.NewReader(`{"username":"erin"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var u admin.User
	if err := json.NewDecoder(resp.Body).Decode(&u); err != nil || u.InvitationURL == "" {
		t.Fatalf("creating erin: %v %+v", err, u)
	}
	resp.Body.Close()
	inv, _ := url.Parse(u.InvitationURL)
	page, err := http.Get(strings.TrimSuffix(base, "/gatehouse/v1") + admin.SignupPath + "?" + inv.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if page.StatusCode != http.StatusOK {
		t.Fatalf("sign-up page: %s", page.Status)
	}
	// strict-origin: a Referer, if any, is the bare origin; an Origin
	// header goes with same-origin posts.
	if got := page.Header.Get("Referrer-Policy"); got != "strict-origin" {
		t.Errorf("Referrer-Policy %q, want strict-origin", got)
	}
}
