package main

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// The end-to-end tests drive the binary as a user would, with
// internal/testkit: testkit.StartGatehouse and testkit.StartServe run
// `gatehouse serve`, testkit.NewCLI runs its commands. This file and
// e2e_helpers_test.go hold what only this package's tests share.

// TestMain sets Gin's mode as main does, for the servers tests build in
// process, and removes the binary that testkit.Binary built, once every
// test of the package is done with it.
func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	defer testkit.RemoveBinary()
	m.Run()
}

// contains fails the test unless s holds every wanted piece.
func contains(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// decodeJSON decodes the JSON printed by -o json.
func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON (%v):\n%s", err, s)
	}
	return v
}

// readAll reads a response body and closes it.
func readAll(t *testing.T, r io.ReadCloser) string {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
