package admin

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// User is a user as the API shows it.
type User struct {
	ID            string   `json:"id"`
	Username      string   `json:"username"`
	FullName      string   `json:"full_name"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"` // set by an admin, not by the user
	Active        bool     `json:"active"`
	State         string   `json:"state"` // active, invited (has not signed up) or deactivated
	Roles         []string `json:"roles"`
	// WorkspaceRoles are the roles the user holds in one workspace each
	// (g2 lines), by role, then workspace; a team's are shown by the team.
	WorkspaceRoles      []WorkspaceRole `json:"workspace_roles,omitempty"`
	CreatedAt           time.Time       `json:"created_at"`
	InvitationURL       string          `json:"invitation_url,omitempty"`
	InvitationExpiresAt *time.Time      `json:"invitation_expires_at,omitempty"`
}

// CreateUser is the input of a user creation. Without a password the user
// is inactive and gets an invitation. Roles nil means the default role.
type CreateUser struct {
	Username string    `json:"username"`
	Password string    `json:"password,omitempty"`
	Roles    *[]string `json:"roles,omitempty"`
	Email    string    `json:"email,omitempty"`
	FullName string    `json:"full_name,omitempty"`
	// ReuseName gives the user a name or email another user gave up less
	// than the reservation period ago (see Config.NameReservation).
	ReuseName bool `json:"reuse_name,omitempty"`
}

// UpdateUser is a partial update of a user; nil fields stay.
type UpdateUser struct {
	Username *string `json:"username,omitempty"`
	Email    *string `json:"email,omitempty"`
	FullName *string `json:"full_name,omitempty"`
	Active   *bool   `json:"active,omitempty"`
	Password *string `json:"password,omitempty"`
	// ReuseName: as in CreateUser, for a rename.
	ReuseName bool `json:"reuse_name,omitempty"`
}

// UpdateMe is a partial update of the caller's own user. A new password
// needs the current one.
type UpdateMe struct {
	Username        *string `json:"username"`
	Email           *string `json:"email"`
	FullName        *string `json:"full_name"`
	Password        *string `json:"password"`
	CurrentPassword *string `json:"current_password"`
}

func (s *Service) view(u *store.User) User {
	// The user's own roles: a team's are shown by the team.
	roles := slices.DeleteFunc(s.eng.Parents(policy.UserSubject(u.Username)), func(p string) bool {
		return strings.HasPrefix(p, policy.TeamPrefix)
	})
	if roles == nil {
		roles = []string{}
	}
	slices.Sort(roles)
	return User{
		ID: u.ID, Username: u.Username, FullName: u.FullName, Email: u.Email, EmailVerified: u.EmailVerified,
		Active: u.Active, State: userState(u), Roles: roles, WorkspaceRoles: s.workspaceRoles(policy.UserSubject(u.Username)),
		CreatedAt: u.CreatedAt.UTC(),
	}
}

// User states, as the API shows them.
const (
	StateActive      = "active"
	StateInvited     = "invited"
	StateDeactivated = "deactivated"
)

func userState(u *store.User) string {
	switch {
	case u.Active:
		return StateActive
	case u.Deactivated:
		return StateDeactivated
	}
	return StateInvited
}

// checkName checks a name that policy lines may hold (a username, role,
// team, key or workspace name), as field.
func checkName(field, name string) error {
	if !policy.ValidName(name) {
		return fieldErr(field, "must be 1-%d characters of A-Z a-z 0-9 . _ @ -", policy.MaxNameLen)
	}
	return nil
}

// validateUsername checks a new username. A name shaped like a user id is
// refused: an upstream that takes "name or id" must never confuse the two.
func validateUsername(name string) error {
	if err := checkName("username", name); err != nil {
		return err
	}
	if _, err := uuid.Parse(name); err == nil {
		return fieldErr("username", "must not look like a user id")
	}
	return nil
}

func validateEmail(email string) error {
	if email == "" {
		return nil
	}
	for i := 0; i < len(email); i++ {
		if email[i] >= 0x80 {
			// Look-alike letters (a Cyrillic а for a Latin a) would let
			// two emails read the same; an internationalized domain has
			// an ASCII (xn--) form.
			return fieldErr("email", "must be ASCII; write an internationalized domain in its xn-- form")
		}
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 || hasUnsafeRune(email) {
		return fieldErr("email", "must be a plain address like name@example.com")
	}
	return nil
}

func validateFullName(name string) error {
	if len(name) > 128 {
		return fieldErr("full_name", "must be at most 128 characters")
	}
	if !utf8.ValidString(name) || hasUnsafeRune(name) {
		return fieldErr("full_name", "must not contain control characters or bidirectional overrides")
	}
	return nil
}

// hasUnsafeRune reports whether s holds an UnsafeRune.
func hasUnsafeRune(s string) bool {
	for _, r := range s {
		if UnsafeRune(r) {
			return true
		}
	}
	return false
}

// UnsafeRune reports whether r changes how the text around it is shown:
// C0 and C1 control characters (a terminal takes ESC and CSI as commands),
// line and paragraph separators, and the bidirectional marks, embeddings,
// overrides and isolates that make a name read as another (U+202E turns
// "gnp.exe" around). Names and emails refuse them; the CLI escapes them.
func UnsafeRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f, r == 0x2028, r == 0x2029,
		r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// CreateUser creates a user. It returns the invitation URL (once) when the
// input has no password.
func (s *Service) CreateUser(ctx context.Context, in CreateUser) (User, error) {
	u, inv, err := s.createUser(ctx, in)
	if err != nil {
		return User{}, err
	}
	v := s.view(u)
	if inv != nil {
		v.InvitationURL, v.InvitationExpiresAt = inv.URL, &inv.ExpiresAt
	}
	return v, nil
}

func (s *Service) createUser(ctx context.Context, in CreateUser) (*store.User, *Invitation, error) {
	if err := validateUsername(in.Username); err != nil {
		return nil, nil, err
	}
	if err := validateEmail(in.Email); err != nil {
		return nil, nil, err
	}
	if err := validateFullName(in.FullName); err != nil {
		return nil, nil, err
	}
	roles := s.rolesOrDefault(in.Roles)
	now := s.now().UTC()
	u := &store.User{
		ID: uuid.NewString(), FullName: in.FullName, EmailVerified: in.Email != "", // set by an admin
		TokenVersion: 1, Kind: store.KindUser, CreatedAt: now, UpdatedAt: now,
	}
	u.SetIdentity(in.Username, in.Email)
	if in.Password != "" {
		if err := validatePassword("password", in.Password, in.Username); err != nil {
			return nil, nil, err
		}
		h, err := s.hash(ctx, in.Password)
		if err != nil {
			return nil, nil, err
		}
		u.PasswordHash, u.Active = h, true
	}
	inv, err := s.insertUser(ctx, u, roles, in.ReuseName, "user.create")
	if err != nil {
		return nil, nil, err
	}
	return u, inv, nil
}

// insertUser stores a new user (a person or a service account) with its
// roles, audited as action. A person created inactive gets an invitation,
// which it returns.
func (s *Service) insertUser(ctx context.Context, u *store.User, roles []string, reuseName bool, action string) (*Invitation, error) {
	var inv *Invitation
	err := s.update(ctx, func(c *tx) error {
		for _, r := range roles {
			if ok, err := s.roleExistsTx(c.DB(), r); err != nil {
				return err
			} else if !ok {
				return fieldErr("roles", "unknown role %q", r)
			}
		}
		if err := s.claimIdentity(c, u, reuseName); err != nil {
			return err
		}
		if err := c.DB().Create(u).Error; err != nil {
			return dbErr(err, "user "+quote(u.Username))
		}
		c.auditChange(ctx, action, u.Username, "", policy.UserSubject(u.Username))
		for _, r := range roles {
			c.Add("g", policy.UserSubject(u.Username), r)
		}
		if !u.Active && u.Kind != store.KindServiceAccount {
			var err error
			if inv, err = s.newInvitation(c.DB(), u.ID); err != nil {
				return err
			}
		}
		c.userChanged(u)
		return nil
	})
	return inv, err
}

// rolesOrDefault returns the roles asked for, or the default role when
// none were (nil).
func (s *Service) rolesOrDefault(roles *[]string) []string {
	switch {
	case roles != nil:
		return *roles
	case s.cfg.DefaultRole != "":
		return []string{s.cfg.DefaultRole}
	}
	return []string{}
}

// ListUsers returns every person (service accounts are listed by
// ListServiceAccounts), by name.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	var rows []store.User
	if err := s.db.WithContext(ctx).Where("kind <> ?", store.KindServiceAccount).Order("username").Find(&rows).Error; err != nil {
		return nil, dbErr(err, "users")
	}
	out := make([]User, len(rows))
	for i := range rows {
		out[i] = s.view(&rows[i])
	}
	return out, nil
}

// GetUser returns a person by name or id; a service account is not found
// here.
func (s *Service) GetUser(ctx context.Context, ref string) (User, error) {
	u, err := s.findPerson(s.db.WithContext(ctx), ref)
	if err != nil {
		return User{}, err
	}
	return s.view(u), nil
}

// findUser looks a user up by name, then by id.
func (s *Service) findUser(db *gorm.DB, ref string) (*store.User, error) {
	var u store.User
	err := db.Where("username = ?", ref).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		if _, perr := uuid.Parse(ref); perr == nil {
			err = db.Where("id = ?", ref).Take(&u).Error
		}
	}
	if err != nil {
		return nil, dbErr(err, "user "+quote(ref))
	}
	return &u, nil
}

// findPerson is findUser for the users API: a service account is not
// found there, with a pointer to where it is.
func (s *Service) findPerson(db *gorm.DB, ref string) (*store.User, error) {
	u, err := s.findUser(db, ref)
	if err == nil && u.Kind == store.KindServiceAccount {
		return nil, notFoundf("%s is a service account: use gatehouse service-account (/gatehouse/v1/service-accounts)", quote(u.Username))
	}
	return u, err
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}

// UpdateUser changes a user. actorID is the caller, who may not deactivate
// themselves.
func (s *Service) UpdateUser(ctx context.Context, actorID, ref string, in UpdateUser) (User, error) {
	var out *store.User
	var hash string
	if in.Password != nil {
		u, err := s.findUser(s.db.WithContext(ctx), ref)
		if err != nil {
			return User{}, err
		}
		if u.Kind == store.KindServiceAccount {
			return User{}, fieldErr("password", "%s is a service account: it has no password; it authenticates with API keys", quote(u.Username))
		}
		if in.Username != nil {
			if err := validatePassword("password", *in.Password, *in.Username); err != nil {
				return User{}, err
			}
		}
		if hash, err = s.newHash(ctx, "password", *in.Password, u.Username); err != nil {
			return User{}, err
		}
	}
	err := s.update(ctx, func(c *tx) error {
		u, err := s.findPerson(c.DB(), ref)
		if err != nil {
			return err
		}
		c.auditChange(ctx, "user.update", u.Username, policy.UserSubject(u.Username), policy.UserSubject(pick(in.Username, u.Username)))
		if in.Active != nil && !*in.Active && u.Active {
			if u.ID == actorID {
				return conflictf("you cannot deactivate yourself")
			}
			if err := s.guardAdmins(c, u); err != nil {
				return err
			}
		}
		p := profile{username: in.Username, email: in.Email, fullName: in.FullName, reuseName: in.ReuseName, byAdmin: true}
		if err := s.applyProfile(c, u, p); err != nil {
			return err
		}
		if hash != "" {
			u.PasswordHash = hash
			u.TokenVersion++
		}
		if in.Active != nil {
			if err := setActive(c, u, *in.Active); err != nil {
				return err
			}
		}
		out = u
		return s.saveUser(c, u)
	})
	if err != nil {
		return User{}, err
	}
	return s.view(out), nil
}

// setActive deactivates or reactivates u. Deactivation works in every
// state: it ends the user's tokens and voids a pending invitation, so that
// a user who never signed up cannot sign up either. Reactivation gives back
// what the user had: an account with a password is active again (earlier
// tokens stay void); one that never signed up is invited again and needs
// a new invitation.
func setActive(c *tx, u *store.User, active bool) error {
	switch {
	case !active && !u.Deactivated:
		u.Active, u.Deactivated = false, true
		u.TokenVersion++
		if err := c.DB().Where("user_id = ?", u.ID).Delete(&store.Invitation{}).Error; err != nil {
			return dbErr(err, "invitation")
		}
	case active && u.Deactivated:
		u.Deactivated = false
		u.Active = u.PasswordHash != ""
	case active && !u.Active:
		if u.PasswordHash == "" {
			return fieldErr("active", "the user has not signed up yet; send an invitation or set a password")
		}
		u.Active = true
	}
	return nil
}

// newHash checks a new password of the user called username and hashes it.
func (s *Service) newHash(ctx context.Context, field, pw, username string) (string, error) {
	if err := validatePassword(field, pw, username); err != nil {
		return "", err
	}
	return s.hash(ctx, pw)
}

// saveUser writes u and puts it in the directory after the commit.
func (s *Service) saveUser(c *tx, u *store.User) error {
	u.UpdatedAt = s.now().UTC()
	if err := c.DB().Save(u).Error; err != nil {
		return dbErr(err, "user "+quote(u.Username))
	}
	c.userChanged(u)
	return nil
}

// DeleteUser deletes a user and every assignment of it.
func (s *Service) DeleteUser(ctx context.Context, actorID, ref string) error {
	return s.update(ctx, func(c *tx) error {
		u, err := s.findPerson(c.DB(), ref)
		if err != nil {
			return err
		}
		if u.ID == actorID {
			return conflictf("you cannot delete yourself")
		}
		if err := s.guardAdmins(c, u); err != nil {
			return err
		}
		return s.removeUser(ctx, c, u, "user.delete")
	})
}

// removeUser deletes u (a person or a service account), its assignments
// and invitation in c, audited as action; its name and email stay
// reserved (Config.NameReservation).
func (s *Service) removeUser(ctx context.Context, c *tx, u *store.User, action string) error {
	sub := policy.UserSubject(u.Username)
	if ls := c.FileLines(sub); len(ls) > 0 {
		return conflictf("user %q is named in %s; remove it there first", u.Username, ls[0].Origin())
	}
	c.auditChange(ctx, action, u.Username, sub, "")
	c.RemoveSubject(sub)
	if err := s.release(c, store.IdentityKey(u.Username), u.Username, u.ID); err != nil {
		return err
	}
	if u.Email != "" {
		if err := s.release(c, emailKey(u.Email), u.Email, u.ID); err != nil {
			return err
		}
	}
	if err := c.DB().Where("user_id = ?", u.ID).Delete(&store.Invitation{}).Error; err != nil {
		return dbErr(err, "invitation")
	}
	if err := c.DB().Delete(u).Error; err != nil {
		return dbErr(err, "user "+quote(u.Username))
	}
	c.userDeleted(u.ID)
	return nil
}

// guardAdmins refuses a change that would leave no active user holding the
// admin role, when u is about to stop counting (deleted, deactivated or
// losing the role in c).
func (s *Service) guardAdmins(c *tx, u *store.User) error {
	if u.Kind == store.KindServiceAccount {
		return nil // service accounts never count as the admins kept
	}
	if !s.eng.Reaches(policy.UserSubject(u.Username), policy.RoleAdmin) {
		return nil
	}
	if s.activeAdmin(c.Holders(policy.RoleAdmin), u.Username) {
		return nil
	}
	return conflictf("user %q is the last active admin; make another user admin first", u.Username)
}

// Me returns the caller's own user.
func (s *Service) Me(ctx context.Context, id *Identity) (User, error) {
	u, err := s.findUser(s.db.WithContext(ctx), id.UserID())
	if err != nil {
		return User{}, err
	}
	return s.view(u), nil
}

// UpdateMe changes the caller's own profile or password. Renaming
// yourself needs the write permission (see renameNeedsWrite); an email
// set here is unverified.
func (s *Service) UpdateMe(ctx context.Context, id *Identity, in UpdateMe) (User, error) {
	if in.Username != nil && *in.Username != id.Username() && !s.eng.Reaches(id.Subject(), policy.PermWrite) {
		return User{}, fmt.Errorf("%w: %s", ErrForbidden, renameNeedsWrite)
	}
	var hash, verified string
	if in.Password != nil {
		if err := validatePassword("password", *in.Password, id.Username()); err != nil {
			return User{}, err
		}
		// A change that cannot succeed (a taken email or name) fails
		// before any password hashing.
		if err := s.precheckProfile(ctx, id.UserID(), in); err != nil {
			return User{}, err
		}
		if in.CurrentPassword == nil || *in.CurrentPassword == "" {
			return User{}, fieldErr("current_password", "is required to change the password")
		}
		// The current password is checked before the change takes the
		// write lock, and wrong guesses count against a limit: a stolen
		// token must neither guess freely nor stall every writer.
		var err error
		if verified, err = s.checkCurrentPassword(ctx, id.UserID(), *in.CurrentPassword); err != nil {
			return User{}, err
		}
		if hash, err = s.hash(ctx, *in.Password); err != nil {
			return User{}, err
		}
	}
	var out *store.User
	err := s.update(ctx, func(c *tx) error {
		u, err := s.findUser(c.DB(), id.UserID())
		if err != nil {
			return err
		}
		c.auditChange(ctx, "me.update", u.Username, policy.UserSubject(u.Username), policy.UserSubject(pick(in.Username, u.Username)))
		if hash != "" {
			if u.PasswordHash != verified {
				return conflictf("the password changed meanwhile; try again")
			}
			u.PasswordHash = hash
			u.TokenVersion++
		}
		if err := s.applyProfile(c, u, profile{username: in.Username, email: in.Email, fullName: in.FullName}); err != nil {
			return err
		}
		out = u
		return s.saveUser(c, u)
	})
	if err != nil {
		return User{}, err
	}
	return s.view(out), nil
}

// precheckProfile checks, without changing anything, that the name and
// email of a profile change are free.
func (s *Service) precheckProfile(ctx context.Context, userID string, in UpdateMe) error {
	db := s.db.WithContext(ctx)
	u, err := s.findUser(db, userID)
	if err != nil {
		return err
	}
	if in.Email != nil {
		if err := validateEmail(*in.Email); err != nil {
			return err
		}
	}
	u.SetIdentity(pick(in.Username, u.Username), pick(in.Email, u.Email))
	_, err = s.identityConflict(db, u, false)
	return err
}

// pick returns *p when p is set, else def.
func pick(p *string, def string) string {
	if p != nil {
		return *p
	}
	return def
}

// checkCurrentPassword checks a user's current password, rate-limited per
// user, and returns the hash it was checked against.
func (s *Service) checkCurrentPassword(ctx context.Context, userID, password string) (string, error) {
	u, err := s.findUser(s.db.WithContext(ctx), userID)
	if err != nil {
		return "", err
	}
	// As for a login: wrong guesses per user, checks per client, and
	// verified passwords per user, so that a valid token and password do
	// not buy unlimited hashing either.
	key, client, now := "me\x00"+userID, requestFrom(ctx).client, s.now()
	wait := s.verifiedPerUser.check(u.Username, now)
	if wait == 0 {
		wait = attemptAll(now, limitKey{s.logins, key}, limitKey{s.checksPerClient, client})
	}
	if wait > 0 {
		return "", &RateLimitError{RetryAfter: wait}
	}
	ok, err := s.check(ctx, u.PasswordHash, password)
	switch {
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.Canceled):
		return "", err
	case err != nil || !ok:
		return "", fieldErr("current_password", "is wrong")
	}
	s.logins.reset(key)
	s.verifiedPerUser.fail(u.Username, now)
	return u.PasswordHash, nil
}
