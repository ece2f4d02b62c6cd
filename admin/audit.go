package admin

import (
	"context"
	"log/slog"
	"slices"

	"github.com/gatehouse-dev/gatehouse/proxy"
)

// Audit event kinds, the value of the "audit" attribute of audit log lines.
// Every audit line is one JSON object with the request id; none carries a
// token or a password.
const (
	AuditLogin       = "login"        // a login attempt, success or failure
	AuditSignup      = "signup"       // an invitation used
	AuditAdminChange = "admin_change" // a change through the admin API
	AuditRefused     = "refused"      // a change the admin API refused (forbidden, conflict)
)

type requestInfoKey struct{}

// requestInfo is who made a request, for audit lines.
type requestInfo struct {
	actor     string // username, "" before authentication
	requestID string
	client    string
}

// withRequest returns ctx carrying who made the request.
func withRequest(ctx context.Context, info requestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

func requestFrom(ctx context.Context) requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(requestInfo)
	return info
}

// audit writes one audit line of the given kind.
func (s *Service) audit(ctx context.Context, kind, msg string, attrs ...slog.Attr) {
	info := requestFrom(ctx)
	base := []slog.Attr{slog.String("audit", kind), slog.String("request_id", info.requestID), slog.String("client", info.client)}
	if info.actor != "" {
		base = append(base, slog.String("actor", info.actor))
	}
	s.log.LogAttrs(ctx, proxy.LevelAudit, msg, append(base, attrs...)...)
}

// auditChange registers an audit line for this change, written after it
// commits: action on target, with what subject held before (beforeSub, now)
// and after the commit (afterSub). For a user these are its roles, for a
// role its permissions.
func (t *tx) auditChange(ctx context.Context, action, target, beforeSub, afterSub string) {
	before := t.s.eng.Parents(beforeSub)
	slices.Sort(before)
	t.OnCommit(func() {
		after := []string{}
		if afterSub != "" {
			after = t.s.eng.Parents(afterSub)
			slices.Sort(after)
		}
		if before == nil {
			before = []string{}
		}
		t.s.audit(ctx, AuditAdminChange, "admin change",
			slog.String("action", action), slog.String("target", target),
			slog.Any("before", before), slog.Any("after", after))
	})
}
