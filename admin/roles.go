package admin

import (
	"context"
	"errors"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// Role is a role as the API shows it.
type Role struct {
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
	Builtin     bool     `json:"builtin"`
	// Source is "database" for roles made through the API, or the policy
	// file and line that defines the role (read-only through the API).
	Source string `json:"source"`
}

// Permission is a permission and the rules it opens.
type Permission struct {
	Name   string `json:"name"`
	Rules  []Rule `json:"rules"`
	Source string `json:"source"`
}

// Rule is one p line of a permission.
type Rule struct {
	Path    string `json:"path"`
	Methods string `json:"methods"`
	Source  string `json:"source"`
}

// permissionNames returns every permission: the built-ins and the subjects
// of p lines, except the public role and users.
func (s *Service) permissionNames() []string {
	names := policy.BuiltinPermissions()
	for _, l := range s.eng.Rules() {
		sub := l.Fields[0]
		if sub != policy.Public && !strings.HasPrefix(sub, policy.UserPrefix) && !slices.Contains(names, sub) {
			names = append(names, sub)
		}
	}
	return names
}

func (s *Service) isPermission(name string) bool { return slices.Contains(s.permissionNames(), name) }

// fileRoles returns the roles that policy files define: subjects of file g
// lines that are neither users, teams nor permissions, with their first
// line.
func (s *Service) fileRoles() map[string]policy.Line {
	perms := s.permissionNames()
	out := map[string]policy.Line{}
	for _, l := range s.eng.FileLines() {
		if l.Ptype != "g" || len(l.Fields) != 2 {
			continue
		}
		child := l.Fields[0]
		if strings.HasPrefix(child, policy.UserPrefix) || strings.HasPrefix(child, policy.TeamPrefix) ||
			slices.Contains(perms, child) || child == policy.Public {
			continue
		}
		if _, seen := out[child]; !seen {
			out[child] = l
		}
	}
	return out
}

func (s *Service) roleExists(name string) (bool, error) { return s.roleExistsTx(s.db, name) }

// roleExistsTx reports whether name is a role, reading the roles table
// through db (a transaction when called inside a change).
func (s *Service) roleExistsTx(db *gorm.DB, name string) (bool, error) {
	if _, ok := s.fileRoles()[name]; ok {
		return true, nil
	}
	var n int64
	if err := db.Model(&store.Role{}).Where("name = ?", name).Count(&n).Error; err != nil {
		return false, dbErr(err, "role "+quote(name))
	}
	return n > 0, nil
}

func (s *Service) roleView(name, source string) Role {
	perms := s.eng.Parents(name)
	if perms == nil {
		perms = []string{}
	}
	slices.Sort(perms)
	return Role{Name: name, Permissions: perms, Builtin: name == policy.RoleAdmin || name == policy.RoleGuest, Source: source}
}

// ListRoles returns every role: those of the policy files, then those made
// through the API.
func (s *Service) ListRoles(ctx context.Context) ([]Role, error) {
	var out []Role
	files := s.fileRoles()
	for name, l := range files {
		out = append(out, s.roleView(name, l.Origin()))
	}
	var rows []store.Role
	if err := s.db.WithContext(ctx).Order("name").Find(&rows).Error; err != nil {
		return nil, dbErr(err, "roles")
	}
	for _, r := range rows {
		if _, dup := files[r.Name]; !dup {
			out = append(out, s.roleView(r.Name, policy.OriginDatabase))
		}
	}
	slices.SortFunc(out, func(a, b Role) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// GetRole returns one role.
func (s *Service) GetRole(ctx context.Context, name string) (Role, error) {
	if l, ok := s.fileRoles()[name]; ok {
		return s.roleView(name, l.Origin()), nil
	}
	var r store.Role
	if err := s.db.WithContext(ctx).Where("name = ?", name).Take(&r).Error; err != nil {
		return Role{}, dbErr(err, "role "+quote(name))
	}
	return s.roleView(name, policy.OriginDatabase), nil
}

// checkPermissions validates a role's permission set.
func (s *Service) checkPermissions(perms []string) ([]string, error) {
	known := s.permissionNames()
	var out []string
	for _, p := range perms {
		if !slices.Contains(known, p) {
			return nil, fieldErr("permissions", "unknown permission %q (known: %s)", p, strings.Join(known, ", "))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// CreateRole creates a role with the given permissions.
func (s *Service) CreateRole(ctx context.Context, name string, perms []string) (Role, error) {
	if err := checkName("name", name); err != nil {
		return Role{}, err
	}
	perms, err := s.checkPermissions(perms)
	if err != nil {
		return Role{}, err
	}
	switch {
	case name == policy.Public:
		return Role{}, conflictf("%q is reserved for rules that apply to everyone", name)
	case s.isPermission(name):
		return Role{}, conflictf("%q is the name of a permission; roles and permissions share one namespace", name)
	}
	if l, ok := s.fileRoles()[name]; ok {
		return Role{}, conflictf("role %q is defined in %s", name, l.Origin())
	}
	err = s.update(ctx, func(c *tx) error {
		if err := teamConflict(c.DB(), name); err != nil {
			return err
		}
		if err := c.DB().Create(&store.Role{Name: name, CreatedAt: s.now().UTC()}).Error; err != nil {
			return dbErr(err, "role "+quote(name))
		}
		c.auditChange(ctx, "role.create", name, name, name)
		for _, p := range perms {
			c.Add("g", name, p)
		}
		return nil
	})
	if err != nil {
		return Role{}, err
	}
	return s.roleView(name, policy.OriginDatabase), nil
}

// RoleUpdate changes a role's permissions: Permissions replaces the set;
// otherwise Add and Remove change it in place, in one transaction, so that
// concurrent edits of other permissions are not lost.
type RoleUpdate struct {
	Permissions *[]string `json:"permissions"`
	Add         []string  `json:"add_permissions"`
	Remove      []string  `json:"remove_permissions"`
}

// ChangeRole changes the permissions of a role made through the API.
func (s *Service) ChangeRole(ctx context.Context, name string, in RoleUpdate) (Role, error) {
	if l, ok := s.fileRoles()[name]; ok {
		return Role{}, conflictf("role %q is defined in %s and is read-only through the API", name, l.Origin())
	}
	if err := s.checkRoleUpdate(in); err != nil {
		return Role{}, err
	}
	err := s.update(ctx, func(c *tx) error {
		if err := c.DB().Where("name = ?", name).Take(&store.Role{}).Error; err != nil {
			return dbErr(err, "role "+quote(name))
		}
		have := s.eng.Parents(name)
		perms, err := s.newPermissionSet(name, have, in)
		if err != nil {
			return err
		}
		c.auditChange(ctx, "role.update", name, name, name)
		for _, p := range have {
			if !slices.Contains(perms, p) {
				if err := c.Remove("g", name, p); err != nil {
					return err
				}
			}
		}
		for _, p := range perms {
			if !slices.Contains(have, p) {
				c.Add("g", name, p)
			}
		}
		return nil
	})
	if err != nil {
		return Role{}, err
	}
	return s.roleView(name, policy.OriginDatabase), nil
}

// checkRoleUpdate validates a role update's form.
func (s *Service) checkRoleUpdate(in RoleUpdate) error {
	switch {
	case in.Permissions != nil && (len(in.Add) > 0 || len(in.Remove) > 0):
		return fieldErr("permissions", "give either the new set or add_permissions/remove_permissions, not both")
	case in.Permissions == nil && len(in.Add) == 0 && len(in.Remove) == 0:
		return fieldErr("permissions", "is required: the new set, or add_permissions/remove_permissions")
	}
	for _, p := range in.Add {
		if slices.Contains(in.Remove, p) {
			return fieldErr("add_permissions", "%q is both added and removed", p)
		}
	}
	if _, err := s.checkPermissions(in.Add); err != nil {
		return fieldErr("add_permissions", "%v", err.(*FieldError).Msg)
	}
	return nil
}

// newPermissionSet returns the permissions role name will have after in,
// given those it has.
func (s *Service) newPermissionSet(name string, have []string, in RoleUpdate) ([]string, error) {
	if in.Permissions != nil {
		return s.checkPermissions(*in.Permissions)
	}
	perms := slices.Clone(have)
	for _, p := range in.Remove {
		i := slices.Index(perms, p)
		if i < 0 {
			return nil, fieldErr("remove_permissions", "role %q does not have permission %q", name, p)
		}
		perms = slices.Delete(perms, i, i+1)
	}
	for _, p := range in.Add {
		if !slices.Contains(perms, p) {
			perms = append(perms, p)
		}
	}
	return perms, nil
}

// DeleteRole deletes a role made through the API that nobody holds.
func (s *Service) DeleteRole(ctx context.Context, name string) error {
	if name == policy.RoleAdmin || name == policy.RoleGuest {
		return conflictf("role %q is built in and cannot be deleted", name)
	}
	if l, ok := s.fileRoles()[name]; ok {
		return conflictf("role %q is defined in %s and is read-only through the API", name, l.Origin())
	}
	return s.update(ctx, func(c *tx) error {
		if err := c.DB().Where("name = ?", name).Take(&store.Role{}).Error; err != nil {
			return dbErr(err, "role "+quote(name))
		}
		holders := s.eng.Children(name)
		for _, l := range s.eng.ScopedGroupings() {
			if l.Fields[1] == name {
				holders = append(holders, l.Fields[0]+"\x00"+l.Fields[2])
			}
		}
		if len(holders) > 0 {
			names := make([]string, len(holders))
			for i, h := range holders {
				sub, ws, scoped := strings.Cut(h, "\x00")
				names[i] = holderName(sub)
				if scoped {
					names[i] += " in workspace " + quote(ws)
				}
			}
			if len(names) > 10 {
				names = append(names[:10], "…")
			}
			return conflictf("role %q is still assigned to %s", name, strings.Join(names, ", "))
		}
		c.auditChange(ctx, "role.delete", name, name, "")
		for _, p := range s.eng.Parents(name) {
			if err := c.Remove("g", name, p); err != nil && !errors.Is(err, policy.ErrNoLine) {
				return err
			}
		}
		return dbErr(c.DB().Where("name = ?", name).Delete(&store.Role{}).Error, "role "+quote(name))
	})
}

// ListPermissions returns every permission with its rules.
func (s *Service) ListPermissions() []Permission {
	rules := s.eng.Rules()
	var out []Permission
	for _, name := range s.permissionNames() {
		p := Permission{Name: name, Rules: []Rule{}, Source: "builtin"}
		for _, l := range rules {
			if l.Fields[0] == name {
				p.Rules = append(p.Rules, Rule{Path: l.Fields[1], Methods: l.Fields[2], Source: l.Origin()})
				if !slices.Contains(policy.BuiltinPermissions(), name) && p.Source == "builtin" {
					p.Source = l.Origin()
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// holderName names a role's holder for a message: a user by name, a team
// as team "NAME".
func holderName(sub string) string {
	if name, ok := strings.CutPrefix(sub, policy.TeamPrefix); ok {
		return "team " + quote(name)
	}
	return strings.TrimPrefix(sub, policy.UserPrefix)
}
