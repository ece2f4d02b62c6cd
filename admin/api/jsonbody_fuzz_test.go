package api

import (
	"errors"
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse/admin"
	"github.com/gatehouse-dev/gatehouse/internal/jsonobject"
)

// FuzzDecodeBody feeds the admin API's JSON decoding arbitrary bodies for
// each of its input types: it never panics, refuses only with a bad-request
// error (400), and accepts only a single object whose keys are the exact
// field names, each once.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"username":"alice","password":"correct-horse-battery","roles":["guest"]}`,
		`{"username":"x","username":"y"}`,
		`{"UserName":"x"}`,
		`{"email":"a@example.com","full_name":"A\u202eB"}`,
		`{"user":"alice","role":"admin"}`,
		`{"permissions":["read"],"add_permissions":[]}`,
		`{"username":"x"} {}`,
		`[1,2]`, `null`, `"x"`, `{`, ``, `{"a":{"b":[{"c":1}]}}`,
	} {
		f.Add([]byte(seed))
	}
	targets := []func() any{
		func() any { return &admin.CreateUser{} }, func() any { return &admin.UpdateUser{} }, func() any { return &admin.UpdateMe{} },
		func() any { return &admin.RoleUpdate{} }, func() any { return &loginForm{} },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, newDst := range targets {
			dst := newDst()
			err := decodeBody(data, dst)
			if err != nil {
				if status, _, _ := errorStatus(err); status != 400 {
					t.Fatalf("%T: %q refused with %d (%v), want 400", dst, data, status, err)
				}
				continue
			}
			keys, ok := jsonobject.Keys(data)
			if !ok {
				t.Fatalf("%T: accepted %q, which is not an object", dst, data)
			}
			names := jsonNames(reflect.TypeOf(dst).Elem())
			seen := map[string]bool{}
			for _, k := range keys {
				if !names[k] || seen[k] {
					t.Fatalf("%T: accepted %q with the key %q", dst, data, k)
				}
				seen[k] = true
			}
		}
	})
}

// TestDecodeBodyErrorsAreBadRequests pins the property the fuzz target
// checks on a few known inputs, so it runs in every test run.
func TestDecodeBodyErrorsAreBadRequests(t *testing.T) {
	for _, body := range []string{`{"username":"x","username":"y"}`, `{"UserName":"x"}`, `{`, `[]`, `{"username":1}`, `null`} {
		err := decodeBody([]byte(body), &admin.CreateUser{})
		if status, _, _ := errorStatus(err); err == nil || status != 400 || !errors.Is(err, admin.ErrInvalid) {
			t.Errorf("%s: %v (%d)", body, err, status)
		}
	}
}
