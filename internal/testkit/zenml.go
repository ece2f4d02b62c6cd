package testkit

import (
	"path/filepath"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/sampleapi"
)

// ZenMLAdminPassword is the admin's password in StartZenML's server.
const ZenMLAdminPassword = "admin-password-1"

// ZenML is `gatehouse serve --preset zenml` in front of the sample API
// (ZenML-shaped routes and a dashboard, served from the upstream's origin
// as ZenML 0.40 serves its own); Up records what reaches the sample API.
type ZenML struct {
	Server
	Admin *CLI // logged in as admin
}

// StartZenML starts a ZenML with a temporary SQLite store.
func StartZenML(t testing.TB) *ZenML {
	t.Helper()
	up := NewRecordingUpstream(t, sampleapi.New())
	p := StartServe(t, []string{"GATEHOUSE_ADMIN_PASSWORD=" + ZenMLAdminPassword},
		"--upstream", up.URL, "--db", "sqlite:"+filepath.Join(t.TempDir(), "g.db"), "--preset", "zenml")
	admin := NewCLI(t)
	admin.Login(p.URL, "admin", ZenMLAdminPassword)
	return &ZenML{Server: Server{URL: p.URL, Proc: p, Up: up}, Admin: admin}
}
