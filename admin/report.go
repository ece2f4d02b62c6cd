package admin

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// Kinds of the access report's rows: a person, a service account, and the
// one row of an anonymous caller in a route query.
const (
	ReportKindUser           = store.KindUser
	ReportKindServiceAccount = store.KindServiceAccount
	ReportKindAnonymous      = "anonymous"
)

// ReportAnyone is the User of the route query's row for an anonymous
// caller: the public role opens the route to everyone.
const ReportAnyone = "*"

// reportPage is how many users the access report reads from the store at
// a time: the report never holds more than one page of users.
const reportPage = 500

// ReportFilter narrows the access report. At most one of User, Role and
// Team is set; Method and Path are set together or not at all.
type ReportFilter struct {
	// User keeps one user or service account (by name or id).
	User string
	// Role keeps the rows whose chain passes through the role (within the
	// decision path's hop limit); with a route, the users who reach it.
	Role string
	// Team keeps the team's members, and without a route the rows whose
	// chain passes through the team.
	Team string
	// Method and Path make a route query: who the decision path allows
	// on that route. Path must be canonical (as the data plane has it).
	Method, Path string
}

// ReportRow is one row of the access report: User may exercise Permission,
// because of the chain Via.
type ReportRow struct {
	User string `json:"user"`
	// Kind is "user", "service_account" or, for the route query's "*"
	// row, "anonymous".
	Kind string `json:"kind"`
	// Active is false for an invited or deactivated user: the row says
	// what the policy gives them, but the data plane refuses them at
	// authentication, so they can do nothing until they are active.
	Active     bool   `json:"active"`
	Permission string `json:"permission"`
	// Workspace is the workspace the permission holds in, for a
	// permission held through a workspace-scoped role (a g2 line); ""
	// means every workspace.
	Workspace string `json:"workspace"`
	// Via is the chain from the user's subject to the permission:
	// ["user:bob", "team:ml", "editor", "write"]; it has "public" second
	// for what every subject reaches through the public role. In a row
	// with a Workspace, one hop is the g2 line: from its subject (the
	// user, or a team or group the user is in) to the role it gives.
	Via []string `json:"via"`
	// Rule is, in a route query, the line that decides the request, with
	// its origin (as POST /check explains it).
	Rule string `json:"rule,omitempty"`
}

// AccessReport emits the access report row by row, computed from the
// policy in force: without a route, one row per (user or service account,
// permission it reaches), users in username order and each user's rows in
// permission order; with a route, one row per user the decision path
// (Decide, with the user's own name and id for {self}) allows on it, after
// a "*" row when the public role allows it. Users are read from the store
// a page at a time, so memory does not grow with their number. An error
// from emit stops the report and is returned. An unknown user, role or
// team is ErrNotFound.
func (s *Service) AccessReport(ctx context.Context, f ReportFilter, emit func(ReportRow) error) error {
	mid, err := s.checkReportFilter(ctx, &f)
	if err != nil {
		return err
	}
	route := f.Method != ""
	if route && f.User == "" && f.Role == "" && f.Team == "" {
		if err := s.reportAnonymous(f, emit); err != nil {
			return err
		}
	}
	return s.reportUsers(ctx, f, func(u *store.User) error {
		if route {
			return s.reportRoute(u, f, emit)
		}
		return s.reportChains(u, mid, emit)
	})
}

// checkReportFilter checks f, resolves f.User to a username, and returns
// the subject the rows' chains must pass through ("" for any).
func (s *Service) checkReportFilter(ctx context.Context, f *ReportFilter) (string, error) {
	n := 0
	for _, v := range []string{f.User, f.Role, f.Team} {
		if v != "" {
			n++
		}
	}
	switch {
	case n > 1:
		return "", fieldErr("user", "give one of user, role and team")
	case f.Method != "" && f.Path == "":
		return "", fieldErr("path", "is required with method")
	case f.Path != "" && f.Method == "":
		return "", fieldErr("method", "is required with path")
	case f.Method != "" && !policy.ValidMethod(f.Method):
		return "", fieldErr("method", "%s", policy.MethodError(f.Method))
	case f.Path != "" && !strings.HasPrefix(f.Path, "/"):
		return "", fieldErr("path", "must start with /")
	}
	db := s.db.WithContext(ctx)
	switch {
	case f.User != "":
		u, err := s.findUser(db, f.User)
		if err != nil {
			return "", err
		}
		f.User = u.Username
	case f.Team != "":
		// A team is made through the API (a row) or in policy files (g
		// lines only).
		sub := policy.TeamSubject(f.Team)
		if len(s.eng.Parents(sub)) > 0 || len(s.eng.Children(sub)) > 0 {
			return sub, nil
		}
		if _, err := findTeam(db, f.Team); err != nil {
			return "", err
		}
		return sub, nil
	case f.Role != "":
		if ok, err := s.roleExists(f.Role); err != nil {
			return "", err
		} else if !ok {
			return "", notFoundf("role %s not found", quote(f.Role))
		}
		return f.Role, nil
	}
	return "", nil
}

// reportUsers calls fn for each user f keeps, in username order, reading
// them a page at a time.
func (s *Service) reportUsers(ctx context.Context, f ReportFilter, fn func(*store.User) error) error {
	db := s.db.WithContext(ctx)
	if f.User != "" {
		u, err := s.findUser(db, f.User)
		if err != nil {
			return err
		}
		return fn(u)
	}
	var members []string
	if f.Team != "" {
		members = s.teamMembers(policy.TeamSubject(f.Team))
	}
	last := ""
	for page := 0; ; page++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var rows []store.User
		q := db.Order("username").Limit(reportPage)
		if f.Team != "" {
			lo := min(page*reportPage, len(members))
			hi := min(lo+reportPage, len(members))
			if lo == hi {
				return nil
			}
			q = q.Where("username IN ?", members[lo:hi])
		} else {
			q = q.Where("username > ?", last)
		}
		if err := q.Find(&rows).Error; err != nil {
			return dbErr(err, "users")
		}
		for i := range rows {
			if err := fn(&rows[i]); err != nil {
				return err
			}
		}
		if f.Team == "" {
			if len(rows) < reportPage {
				return nil
			}
			last = rows[len(rows)-1].Username
		}
	}
}

// reportChains emits u's permissions (those through mid, unless ""):
// global ones, then those held in a workspace, by permission and
// workspace.
func (s *Service) reportChains(u *store.User, mid string, emit func(ReportRow) error) error {
	sub := policy.UserSubject(u.Username)
	cs := append(s.eng.ChainsThrough(sub, mid), s.eng.ScopedChainsThrough(sub, mid)...)
	slices.SortStableFunc(cs, func(a, b policy.Chain) int {
		return cmp.Or(strings.Compare(a.Permission, b.Permission), strings.Compare(a.Workspace, b.Workspace))
	})
	for _, c := range cs {
		r := userRow(u, c.Permission, c.Via, "")
		r.Workspace = c.Workspace
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

// reportRoute emits u's row for the route query f when the decision path
// allows u on the route.
func (s *Service) reportRoute(u *store.User, f ReportFilter, emit func(ReportRow) error) error {
	sub := policy.UserSubject(u.Username)
	if f.Role != "" && !s.eng.Reaches(sub, f.Role) && len(s.eng.ScopedChainsThrough(sub, f.Role)) == 0 {
		return nil // neither globally nor in a workspace
	}
	d, err := s.eng.Explain(sub, u.ID, u.Username, f.Method, f.Path)
	if err != nil || !d.Allowed {
		return err
	}
	if d.Workspace != "" {
		// Allowed through a role u holds in the path's workspace.
		r := userRow(u, d.Permission, s.scopedChainTo(sub, d.Permission, d.Workspace), d.Rule)
		r.Workspace = d.Workspace
		return emit(r)
	}
	return emit(userRow(u, d.Permission, s.chainTo(sub, d.Permission), d.Rule))
}

// scopedChainTo returns sub's chain to perm in workspace ws, or [sub].
func (s *Service) scopedChainTo(sub, perm, ws string) []string {
	for _, c := range s.eng.ScopedChainsThrough(sub, "") {
		if c.Permission == perm && c.Workspace == ws {
			return c.Via
		}
	}
	return []string{sub}
}

// reportAnonymous emits the "*" row when the public role opens the route.
func (s *Service) reportAnonymous(f ReportFilter, emit func(ReportRow) error) error {
	d, err := s.eng.Explain("", "", "", f.Method, f.Path)
	if err != nil || !d.Allowed {
		return err
	}
	return emit(ReportRow{
		User: ReportAnyone, Kind: ReportKindAnonymous, Active: true, Permission: d.Permission,
		Via: s.chainTo(policy.Public, d.Permission), Rule: d.Rule,
	})
}

// chainTo returns sub's chain to perm, or [sub] when the g lines give
// none (a custom model's matcher may allow without them).
func (s *Service) chainTo(sub, perm string) []string {
	for _, c := range s.eng.Chains(sub) {
		if c.Permission == perm {
			return c.Via
		}
	}
	return []string{sub}
}

func userRow(u *store.User, perm string, via []string, rule string) ReportRow {
	return ReportRow{User: u.Username, Kind: u.Kind, Active: u.Active, Permission: perm, Via: via, Rule: rule}
}
