package main

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/cmd/gatehouse/internal/client"
	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// TestCLIAccessReport runs `gatehouse access report` through the built
// binary against `gatehouse serve`: the team's chain in CSV, and a route
// query that lists alice exactly when her real request is allowed.
func TestCLIAccessReport(t *testing.T) {
	const adminPW, alicePW = "admin-password-1", "alice-password-1"
	srv := testkit.StartGatehouse(t, adminPW)
	a := testkit.NewCLI(t)
	a.Login(srv.URL, "admin", adminPW)
	a.OKStdin(alicePW+"\n", "user", "create", "alice", "--password-stdin")
	a.OK("role", "create", "writer", "-p", "read", "-p", "write")
	a.OK("team", "create", "ml-platform", "--user", "alice")
	a.OK("role", "assign", "writer", "--team", "ml-platform")

	recs, err := csv.NewReader(strings.NewReader(a.OK("access", "report", "--team", "ml-platform", "-o", "csv"))).ReadAll()
	if err != nil || len(recs) != 3 || strings.Join(recs[0], ",") != "user,kind,active,permission,workspace,via,rule" ||
		strings.Join(recs[2], "|") != "alice|user|true|write||user:alice > team:ml-platform > writer > write|" {
		t.Fatalf("access report --team -o csv: %v %q", err, recs)
	}

	tok := login(t, srv.URL, "alice", alicePW)
	listed := func() bool {
		t.Helper()
		var found bool
		out := a.OK("access", "report", "--method", "POST", "--path", "/api/v1/pipelines", "-o", "json")
		if err := client.ReportRows(strings.NewReader(out), func(r client.ReportRow) error {
			if r.User == "alice" {
				found = r.Permission == "write" && strings.Contains(r.Rule, "p, write, /*")
			}
			return nil
		}); err != nil {
			t.Fatalf("access report -o json: %v\n%s", err, out)
		}
		return found
	}
	for _, step := range []struct {
		args []string
		want int
	}{
		{nil, http.StatusOK},
		{[]string{"team", "update", "ml-platform", "--remove-user", "alice"}, http.StatusForbidden},
	} {
		if step.args != nil {
			a.OK(step.args...)
		}
		got, body, _ := do(t, "POST", srv.URL+"/api/v1/pipelines", tok, `{}`)
		if inReport := listed(); got != step.want || inReport != (got == http.StatusOK) {
			t.Errorf("after %v: alice's POST = %d (want %d), listed by the report: %v\n%s", step.args, got, step.want, inReport, body)
		}
	}
	out := a.OK("access", "report", "--user", "alice")
	if !hasRow(out, "alice", "user", "true", "read", "*", "user:alice", ">", "guest", ">", "read") {
		t.Errorf("access report --user alice:\n%s", out)
	}
	a.Fails(2, []string{"--method needs --path"}, "access", "report", "--method", "GET")
}
