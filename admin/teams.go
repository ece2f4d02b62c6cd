package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// Team is a team as the API shows it: a named group of users whose roles
// reach every member on the member's next request.
type Team struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Users []string `json:"users"` // member usernames, sorted
	Roles []string `json:"roles"` // the team's roles, sorted
	// WorkspaceRoles are the roles the team holds in one workspace each
	// (g2 lines), by role, then workspace.
	WorkspaceRoles []WorkspaceRole `json:"workspace_roles,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// TeamUpdate changes a team's members, in one transaction.
type TeamUpdate struct {
	AddUsers    []string `json:"add_users"`
	RemoveUsers []string `json:"remove_users"`
}

// teamView shows the team row t with its members and roles as the policy
// in force has them.
func (s *Service) teamView(t *store.Team) Team {
	sub := policy.TeamSubject(t.Name)
	roles := s.eng.Parents(sub)
	if roles == nil {
		roles = []string{}
	}
	slices.Sort(roles)
	return Team{
		ID: t.ID, Name: t.Name, Users: s.teamMembers(sub), Roles: roles, WorkspaceRoles: s.workspaceRoles(sub),
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
	}
}

// teamMembers returns the usernames of the members of the team subject
// sub, sorted.
func (s *Service) teamMembers(sub string) []string {
	users := []string{}
	for _, ch := range s.eng.Children(sub) {
		if name, ok := strings.CutPrefix(ch, policy.UserPrefix); ok {
			users = append(users, name)
		}
	}
	slices.Sort(users)
	return users
}

// findTeam reads the team called name through db; an unknown team is
// ErrNotFound (`team "x" not found`).
func findTeam(db *gorm.DB, name string) (*store.Team, error) {
	var t store.Team
	if err := db.Where("name = ?", name).Take(&t).Error; err != nil {
		return nil, dbErr(err, "team "+quote(name))
	}
	return &t, nil
}

// teamNamed returns the team whose name folds (store.IdentityKey) to the
// same key as name, or nil: a user, role or team may not take a name a
// team has, up to case.
func teamNamed(db *gorm.DB, name string) (*store.Team, error) {
	var t store.Team
	err := db.Where("name_key = ?", store.IdentityKey(name)).Take(&t).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return nil, nil
	case err != nil:
		return nil, dbErr(err, "team")
	}
	return &t, nil
}

// checkTeamName refuses, in c, a new team's name that a user, role,
// permission or team already has, up to case (as usernames are compared):
// one name means one thing wherever it is shown.
func (s *Service) checkTeamName(c *tx, name string) error {
	key := store.IdentityKey(name)
	if key == store.IdentityKey(policy.Public) {
		return conflictf("%q is reserved for rules that apply to everyone", name)
	}
	for _, p := range s.permissionNames() {
		if store.IdentityKey(p) == key {
			return conflictf("%q is the name of a permission (%q)", name, p)
		}
	}
	if r, err := s.roleFolded(c.DB(), key); err != nil {
		return err
	} else if r != "" {
		return conflictf("%q is the name of a role (%q)", name, r)
	}
	var u store.User
	switch err := c.DB().Where("username_key = ?", key).Take(&u).Error; {
	case err == nil:
		return conflictf("%q is the name of user %q", name, u.Username)
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return dbErr(err, "user")
	}
	if t, err := teamNamed(c.DB(), name); err != nil {
		return err
	} else if t != nil {
		return conflictf("team %q already exists", t.Name)
	}
	return nil
}

// roleFolded returns the role (of the files or the roles table, read
// through db) whose name folds to key, or "".
func (s *Service) roleFolded(db *gorm.DB, key string) (string, error) {
	for r := range s.fileRoles() {
		if store.IdentityKey(r) == key {
			return r, nil
		}
	}
	var names []string
	if err := db.Model(&store.Role{}).Pluck("name", &names).Error; err != nil {
		return "", dbErr(err, "roles")
	}
	for _, r := range names {
		if store.IdentityKey(r) == key {
			return r, nil
		}
	}
	return "", nil
}

// CreateTeam creates a team with the given members (usernames or user
// ids; service accounts may be members too).
func (s *Service) CreateTeam(ctx context.Context, name string, users []string) (Team, error) {
	if err := checkName("name", name); err != nil {
		return Team{}, err
	}
	for i, u := range users {
		if slices.Contains(users[:i], u) {
			return Team{}, fieldErr("users", "%s is listed twice", quote(u))
		}
	}
	var row *store.Team
	err := s.update(ctx, func(c *tx) error {
		if err := s.checkTeamName(c, name); err != nil {
			return err
		}
		sub := policy.TeamSubject(name)
		members, err := s.teamUsers(c, users)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		row = &store.Team{ID: uuid.NewString(), Name: name, NameKey: store.IdentityKey(name), CreatedAt: now, UpdatedAt: now}
		if err := c.DB().Create(row).Error; err != nil {
			return dbErr(err, "team "+quote(name))
		}
		c.auditTeam(ctx, "team.create", name)
		for _, m := range members {
			c.Add("g", policy.UserSubject(m), sub)
		}
		return nil
	})
	if err != nil {
		return Team{}, err
	}
	return s.teamView(row), nil
}

// teamUsers resolves the members named in a team creation to usernames;
// an unknown one is a FieldError on "users".
func (s *Service) teamUsers(c *tx, refs []string) ([]string, error) {
	out := make([]string, 0, len(refs))
	for _, ref := range refs {
		u, err := s.findUser(c.DB(), ref)
		switch {
		case errors.Is(err, ErrNotFound):
			return nil, fieldErr("users", "unknown user %s", quote(ref))
		case err != nil:
			return nil, err
		case slices.Contains(out, u.Username):
			return nil, fieldErr("users", "%s is listed twice", quote(u.Username))
		}
		out = append(out, u.Username)
	}
	return out, nil
}

// ListTeams returns every team, by name.
func (s *Service) ListTeams(ctx context.Context) ([]Team, error) {
	var rows []store.Team
	if err := s.db.WithContext(ctx).Order("name").Find(&rows).Error; err != nil {
		return nil, dbErr(err, "teams")
	}
	out := make([]Team, len(rows))
	for i := range rows {
		out[i] = s.teamView(&rows[i])
	}
	return out, nil
}

// GetTeam returns one team.
func (s *Service) GetTeam(ctx context.Context, name string) (Team, error) {
	t, err := findTeam(s.db.WithContext(ctx), name)
	if err != nil {
		return Team{}, err
	}
	return s.teamView(t), nil
}

// checkTeamUpdate validates a team update's form.
func checkTeamUpdate(in TeamUpdate) error {
	if len(in.AddUsers) == 0 && len(in.RemoveUsers) == 0 {
		return fieldErr("add_users", "give add_users or remove_users")
	}
	for i, u := range in.AddUsers {
		switch {
		case slices.Contains(in.RemoveUsers, u):
			return fieldErr("add_users", "%s is both added and removed", quote(u))
		case slices.Contains(in.AddUsers[:i], u):
			return fieldErr("add_users", "%s is listed twice", quote(u))
		}
	}
	for i, u := range in.RemoveUsers {
		if slices.Contains(in.RemoveUsers[:i], u) {
			return fieldErr("remove_users", "%s is listed twice", quote(u))
		}
	}
	return nil
}

// UpdateTeam adds and removes members. An unknown user is ErrNotFound,
// adding a member ErrConflict, removing a non-member ErrNotFound; a change
// that leaves no active admin is refused and nothing changes.
func (s *Service) UpdateTeam(ctx context.Context, name string, in TeamUpdate) (Team, error) {
	if err := checkTeamUpdate(in); err != nil {
		return Team{}, err
	}
	var row *store.Team
	err := s.update(ctx, func(c *tx) error {
		t, err := findTeam(c.DB(), name)
		if err != nil {
			return err
		}
		admins := s.activeAdmins(c.Holders(policy.RoleAdmin))
		c.auditTeam(ctx, "team.update", t.Name)
		if err := s.addMembers(c, t.Name, in.AddUsers); err != nil {
			return err
		}
		if err := s.removeMembers(c, t.Name, in.RemoveUsers); err != nil {
			return err
		}
		if err := s.guardLockout(c, admins, t.Name); err != nil {
			return err
		}
		t.UpdatedAt, row = s.now().UTC(), t
		return dbErr(c.DB().Save(t).Error, "team "+quote(t.Name))
	})
	if err != nil {
		return Team{}, err
	}
	return s.teamView(row), nil
}

// addMembers makes the users refs members of team in c.
func (s *Service) addMembers(c *tx, team string, refs []string) error {
	sub := policy.TeamSubject(team)
	var added []string
	for _, ref := range refs {
		u, err := s.findUser(c.DB(), ref)
		if err != nil {
			return err
		}
		if l, ok := s.eng.Source("g", policy.UserSubject(u.Username), sub); ok {
			return conflictf("user %q is already in team %q (%s)", u.Username, team, l.Origin())
		}
		if slices.Contains(added, u.Username) {
			return conflictf("user %q is added twice", u.Username)
		}
		added = append(added, u.Username)
		c.Add("g", policy.UserSubject(u.Username), sub)
	}
	return nil
}

// removeMembers takes the users refs out of team in c.
func (s *Service) removeMembers(c *tx, team string, refs []string) error {
	for _, ref := range refs {
		u, err := s.findUser(c.DB(), ref)
		if err != nil {
			return err
		}
		if err := revokeErr(c.Remove("g", policy.UserSubject(u.Username), policy.TeamSubject(team)),
			"user %q is not in team %q", u.Username, team); err != nil {
			return err
		}
	}
	return nil
}

// revokeErr maps the error of removing a line: a missing line is
// ErrNotFound with the message given, a line of a policy file ErrConflict.
func revokeErr(err error, missing string, args ...any) error {
	var ro *policy.ReadOnlyError
	switch {
	case errors.Is(err, policy.ErrNoLine):
		return notFoundf(missing, args...)
	case errors.As(err, &ro):
		return conflictf("%v", err)
	}
	return err
}

// DeleteTeam deletes a team with its members' lines and its roles. A team
// that a policy file names is deleted there first.
func (s *Service) DeleteTeam(ctx context.Context, name string) error {
	return s.update(ctx, func(c *tx) error {
		t, err := findTeam(c.DB(), name)
		if err != nil {
			return err
		}
		sub := policy.TeamSubject(t.Name)
		if ls := c.FileLines(sub); len(ls) > 0 {
			return conflictf("team %q is named in %s; remove it there first", t.Name, ls[0].Origin())
		}
		admins := s.activeAdmins(c.Holders(policy.RoleAdmin))
		c.auditTeam(ctx, "team.delete", t.Name)
		c.RemoveSubject(sub)
		if err := s.guardLockout(c, admins, t.Name); err != nil {
			return err
		}
		return dbErr(c.DB().Delete(t).Error, "team "+quote(t.Name))
	})
}

// AssignTeam gives a team a role, and with it every member: everywhere
// when workspace is "", else in that workspace only (as Assign).
func (s *Service) AssignTeam(ctx context.Context, team, role, workspace string) (Assignment, error) {
	if err := checkWorkspace(workspace); err != nil {
		return Assignment{}, err
	}
	var out Assignment
	err := s.update(ctx, func(c *tx) error {
		t, err := findTeam(c.DB(), team)
		if err != nil {
			return err
		}
		if err := s.addRole(ctx, c, "team", t.Name, policy.TeamSubject(t.Name), role, workspace); err != nil {
			return err
		}
		out = Assignment{Team: t.Name, Role: role, Workspace: workspace, Source: policy.OriginDatabase}
		return nil
	})
	return s.warn(out), err
}

// RevokeTeam takes a role (in workspace, unless "") from a team, and with
// it from every member that holds it through the team only. The last
// active admin keeps admin.
func (s *Service) RevokeTeam(ctx context.Context, team, role, workspace string) error {
	if err := checkWorkspace(workspace); err != nil {
		return err
	}
	return s.update(ctx, func(c *tx) error {
		t, err := findTeam(c.DB(), team)
		if err != nil {
			return err
		}
		sub := policy.TeamSubject(t.Name)
		admins := s.activeAdmins(c.Holders(policy.RoleAdmin))
		c.auditChange(ctx, "role.revoke", sub, sub, sub)
		ptype, fields := assignmentLine(sub, role, workspace)
		if err := revokeErr(c.Remove(ptype, fields...), "team %q does not have role %s%s", t.Name, quote(role), inWorkspace(workspace)); err != nil {
			return err
		}
		return s.guardLockout(c, admins, t.Name)
	})
}

// activeAdmins returns the active people among holders, the subjects that
// reach the admin role, sorted. A service account does not count: a
// person must be able to sign in and administer.
func (s *Service) activeAdmins(holders []string) []string {
	var out []string
	for _, sub := range holders {
		name, ok := strings.CutPrefix(sub, policy.UserPrefix)
		if !ok {
			continue
		}
		if id := s.dir.get(s.dir.idOf(name)); id != nil && id.active && !id.serviceAccount {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// guardLockout refuses a change of team in c that leaves no active person
// reaching admin, when admins (the active admins before the change) had
// one: nobody may lock every administrator out through a team.
func (s *Service) guardLockout(c *tx, admins []string, team string) error {
	if len(admins) == 0 || s.activeAdmin(c.Holders(policy.RoleAdmin), "") {
		return nil
	}
	if len(admins) == 1 {
		return conflictf("user %q is the last active admin (through team %q); make another user admin first", admins[0], team)
	}
	return conflictf("users %s are the last active admins (through team %q); make another user admin first",
		strings.Join(quoteAll(admins), ", "), team)
}

// quoteAll quotes every name.
func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = quote(n)
	}
	return out
}

// auditTeam registers an audit line for a change of team, written after
// it commits: its members and roles before and after.
func (t *tx) auditTeam(ctx context.Context, action, team string) {
	sub := policy.TeamSubject(team)
	before := t.s.teamState(sub)
	t.OnCommit(func() {
		t.s.audit(ctx, AuditAdminChange, "admin change",
			slog.String("action", action), slog.String("target", sub),
			slog.Any("before", before), slog.Any("after", t.s.teamState(sub)))
	})
}

// teamState describes a team's members and roles for an audit line.
func (s *Service) teamState(sub string) []string {
	out := []string{}
	for _, u := range s.teamMembers(sub) {
		out = append(out, policy.UserSubject(u))
	}
	roles := s.eng.Parents(sub)
	slices.Sort(roles)
	return append(out, roles...)
}

// teamConflict refuses a user or role name that a team has (up to case),
// read through db.
func teamConflict(db *gorm.DB, name string) error {
	t, err := teamNamed(db, name)
	switch {
	case err != nil:
		return err
	case t != nil:
		return fmt.Errorf("%w: %q is the name of team %q", ErrConflict, name, t.Name)
	}
	return nil
}
