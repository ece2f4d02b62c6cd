package testkit

import (
	"os"
	"testing"
)

// WriteFile writes data to the file name (mode 0644), failing the test on
// an error.
func WriteFile(t testing.TB, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
