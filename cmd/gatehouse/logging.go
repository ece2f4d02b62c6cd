package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/proxy"
)

// newLogger returns the JSON logger on w. Audit lines (proxy.LevelAudit)
// are labelled "AUDIT" and counted per kind in
// gatehouse_audit_events_total once audit is set (see countAudit).
func newLogger(w io.Writer, level slog.Level) (*slog.Logger, *auditHandler) {
	json := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.LevelKey && len(groups) == 0 {
				if l, ok := a.Value.Any().(slog.Level); ok && l == proxy.LevelAudit {
					a.Value = slog.StringValue("AUDIT")
				}
			}
			return a
		},
	})
	h := &auditHandler{Handler: json, counts: &auditCounts{}}
	return slog.New(h), h
}

// auditCounts holds the counter, set once the registry exists.
type auditCounts struct{ vec *prometheus.CounterVec }

// auditHandler counts audit lines by their "audit" attribute.
type auditHandler struct {
	slog.Handler
	counts *auditCounts
}

// countAudit registers gatehouse_audit_events_total with reg.
func (h *auditHandler) countAudit(reg prometheus.Registerer) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_audit_events_total",
		Help: "Audit log lines by kind: deny, would_deny (shadow mode), login, signup, admin_change, refused.",
	}, []string{"kind"})
	reg.MustRegister(vec)
	h.counts.vec = vec
}

// Handle writes the line, then counts it: whoever sees the count can read
// the line.
func (h *auditHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level == proxy.LevelAudit && h.counts.vec != nil {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "audit" {
				h.counts.vec.WithLabelValues(a.Value.String()).Inc()
				return false
			}
			return true
		})
	}
	return err
}

func (h *auditHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &auditHandler{Handler: h.Handler.WithAttrs(as), counts: h.counts}
}

func (h *auditHandler) WithGroup(name string) slog.Handler {
	return &auditHandler{Handler: h.Handler.WithGroup(name), counts: h.counts}
}
