package e2e

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// TestMain removes the binary that testkit.Binary built, once every test
// of the package is done with it.
func TestMain(m *testing.M) {
	defer testkit.RemoveBinary()
	m.Run()
}
