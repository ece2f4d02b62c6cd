package proxy

import (
	"net/http"
	"testing"
)

func TestBearerToken(t *testing.T) {
	for _, c := range []struct {
		name   string
		values []string
		want   string
		sent   bool
	}{
		{"no header", nil, "", false},
		{"bearer", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", true},
		{"lower case scheme", []string{"bearer abc"}, "abc", true},
		{"upper case scheme", []string{"BEARER abc"}, "abc", true},
		{"extra spaces", []string{"Bearer    abc  "}, "abc", true},
		{"empty token", []string{"Bearer "}, "", true},
		{"scheme only", []string{"Bearer"}, "", true},
		{"basic", []string{"Basic YWxpY2U6eA=="}, "", true},
		{"bearer prefix of another scheme", []string{"Bearerx abc"}, "", true},
		{"tab separator", []string{"Bearer\tabc"}, "", true},
		{"empty header", []string{""}, "", true},
		{"first of two", []string{"Bearer a", "Bearer b"}, "a", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.values != nil {
				h["Authorization"] = c.values
			}
			got, sent := BearerToken(h)
			if got != c.want || sent != c.sent {
				t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", c.values, got, sent, c.want, c.sent)
			}
		})
	}
}

func TestRequestCredential(t *testing.T) {
	for _, c := range []struct {
		name   string
		values []string
		want   Credential
		sent   bool
	}{
		{"no header", nil, Credential{}, false},
		{"bearer", []string{"Bearer abc"}, Credential{SchemeBearer, "abc"}, true},
		{"basic", []string{"Basic YWxpY2U6eA=="}, Credential{SchemeBasic, "YWxpY2U6eA=="}, true},
		{"lower case basic", []string{"basic  YWxpY2U6eA== "}, Credential{SchemeBasic, "YWxpY2U6eA=="}, true},
		{"basic without credentials", []string{"Basic "}, Credential{}, true},
		{"basic prefix of another scheme", []string{"Basicx abc"}, Credential{}, true},
		{"digest", []string{"Digest username=x"}, Credential{}, true},
		{"first of two", []string{"Basic a", "Bearer b"}, Credential{SchemeBasic, "a"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.values != nil {
				h["Authorization"] = c.values
			}
			got, sent := RequestCredential(h)
			if got != c.want || sent != c.sent {
				t.Errorf("RequestCredential(%q) = %+v, %v; want %+v, %v", c.values, got, sent, c.want, c.sent)
			}
		})
	}
}
