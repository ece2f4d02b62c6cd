package api

import (
	"testing"

	"github.com/gin-gonic/gin"
)

// TestMain sets Gin's process-wide mode as the gatehouse binary does
// (release: no debug lines on stdout) before any test builds an engine.
func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	m.Run()
}
