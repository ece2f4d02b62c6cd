package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-dev/gatehouse/proxy"
)

// TestAuditSurvivesWarnLevel: --log-level warn drops info lines but keeps
// the audit trail, and every audit line is counted by kind.
func TestAuditSurvivesWarnLevel(t *testing.T) {
	var buf bytes.Buffer
	log, audit := newLogger(&buf, slog.LevelWarn)
	reg := prometheus.NewRegistry()
	audit.countAudit(reg)
	log.Info("chatter")
	log.With("component", "x").Log(context.Background(), proxy.LevelAudit, "request denied", "audit", "deny")
	log.Log(context.Background(), proxy.LevelAudit, "login", "audit", "login")
	out := buf.String()
	if strings.Contains(out, "chatter") {
		t.Fatal("info line kept at warn")
	}
	if strings.Count(out, `"level":"AUDIT"`) != 2 {
		t.Fatalf("audit lines: %s", out)
	}
	if got := testutil.ToFloat64(audit.counts.vec.WithLabelValues("deny")); got != 1 {
		t.Fatalf("deny count = %v", got)
	}
}
