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

// requestInfo is who made a request, for audit lines and per-client limits.
type requestInfo struct {
	actor     string // username, "" before authentication
	requestID string
	client    string
}

// WithRequest returns ctx carrying a request's id and its client's address
// (as proxy.ClientAddr names it). Audit lines of what the request does
// name both, and the client's address keys the limits on the password
// checks it causes.
func WithRequest(ctx context.Context, requestID, client string) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, requestInfo{requestID: requestID, client: client})
}

// WithActor returns ctx naming actor, the authenticated caller's username,
// in the audit lines of what the request does; the request id and client
// of WithRequest stay.
func WithActor(ctx context.Context, actor string) context.Context {
	info := requestFrom(ctx)
	info.actor = actor
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

// AuditRefusal writes the audit line of a change the API refused (403 or
// 409: someone reaching for another identity, or for rights they lack):
// the request's method and path, the status and the reason given.
func (s *Service) AuditRefusal(ctx context.Context, method, path string, status int, reason string) {
	s.audit(ctx, AuditRefused, "change refused", slog.String("method", method),
		slog.String("path", path), slog.Int("status", status), slog.String("reason", reason))
}

// auditChange registers an audit line for this change, written after it
// commits: action on target, with what subject held before (beforeSub, now)
// and after the commit (afterSub). For a user these are its roles, then
// its roles in one workspace as ROLE@WORKSPACE; for a role its
// permissions.
func (t *tx) auditChange(ctx context.Context, action, target, beforeSub, afterSub string) {
	before := t.s.heldState(beforeSub)
	t.OnCommit(func() {
		after := []string{}
		if afterSub != "" {
			after = t.s.heldState(afterSub)
		}
		if before == nil {
			before = []string{}
		}
		t.s.audit(ctx, AuditAdminChange, "admin change",
			slog.String("action", action), slog.String("target", target),
			slog.Any("before", before), slog.Any("after", after))
	})
}

// heldState is what sub holds, for an audit line: its parents sorted,
// then its workspace roles as ROLE@WORKSPACE.
func (s *Service) heldState(sub string) []string {
	out := s.eng.Parents(sub)
	slices.Sort(out)
	for _, p := range s.eng.ScopedRoles(sub) {
		out = append(out, p[0]+"@"+p[1])
	}
	return out
}
