// Command gatehouse is an authorization sidecar: a reverse proxy that
// authenticates every request, decides it with Casbin RBAC and forwards only
// what is allowed. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"
)

func main() {
	// Gin's mode is process-wide: set once, before anything builds an
	// engine, so that no debug line (routes, warnings) reaches stdout.
	gin.SetMode(gin.ReleaseMode)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
