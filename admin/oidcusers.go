package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// AuditSSO is the audit kind of identity provider sign-ins and refusals.
const AuditSSO = "sso"

// signInIdP returns the user a verified identity provider token stands
// for. The subject's first token creates the user (just in time), named
// by the username claim; every new token records the user's current
// groups as "g, user:NAME, oidc:GROUP" lines, which the policy's
// "g, oidc:GROUP, ROLE" lines turn into roles. Roles an admin gave the
// user are other lines and stay. A token without a username, or whose
// email is outside the allowed domains, creates nothing and is refused.
func (s *Service) signInIdP(c *idpClaims) (*Identity, error) {
	ctx := context.Background()
	switch {
	case c.username == "":
		return nil, s.refuseIdP(c, "the token has no username claim ("+s.idp.cfg.UsernameClaim+") and no email")
	case !s.idp.domainAllowed(c):
		return nil, s.refuseIdP(c, "the email is unverified or outside the allowed domains")
	case validateUsername(c.username) != nil:
		return nil, s.refuseIdP(c, "the username claim is not a valid Gatehouse username")
	}
	groups := groupSubjects(c.groups)
	// The usual case, a known user whose groups did not change, reads and
	// writes nothing more.
	var known store.User
	err := s.db.WithContext(ctx).Where("idp_subject = ?", c.subject).Take(&known).Error
	switch {
	case err == nil && slices.Equal(groups, oidcParents(s.eng.Parents(policy.UserSubject(known.Username)))):
		return s.dir.get(known.ID), nil
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound):
		return nil, dbErr(err, "user")
	}
	var id string
	created := false
	err = s.update(ctx, func(t *tx) error {
		var u store.User
		err := t.DB().Where("idp_subject = ?", c.subject).Take(&u).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			if err := s.createIdPUser(t, c, &u); err != nil {
				return err
			}
			created = true
		case err != nil:
			return dbErr(err, "user")
		}
		id = u.ID
		syncGroups(t, policy.UserSubject(u.Username), groups)
		return nil
	})
	switch {
	case errors.Is(err, ErrConflict), errors.Is(err, ErrInvalid):
		return nil, s.refuseIdP(c, err.Error())
	case err != nil:
		return nil, err
	}
	if created {
		s.audit(ctx, AuditSSO, "user created from identity provider token", slog.String("user", c.username),
			slog.Any("groups", c.groups), slog.Bool("success", true))
	}
	return s.dir.get(id), nil
}

// createIdPUser adds the user of a subject's first token in t: active,
// without a password, with no roles but what its groups give.
func (s *Service) createIdPUser(t *tx, c *idpClaims, u *store.User) error {
	email := c.email
	if validateEmail(email) != nil {
		email = ""
	}
	now := s.now().UTC()
	*u = store.User{
		ID: uuid.NewString(), Active: true, TokenVersion: 1, Kind: store.KindUser,
		EmailVerified: email != "" && !c.emailUnverified, IdPSubject: &c.subject, CreatedAt: now, UpdatedAt: now,
	}
	u.SetIdentity(c.username, email)
	if err := s.claimIdentity(t, u, false); err != nil {
		return err
	}
	if err := t.DB().Create(u).Error; err != nil {
		return dbErr(err, "user "+quote(u.Username))
	}
	t.auditChange(context.Background(), "user.create", u.Username, "", policy.UserSubject(u.Username))
	t.userChanged(u)
	return nil
}

// groupSubjects returns the policy subjects of groups, sorted; a group
// whose name no policy line could name is left out.
func groupSubjects(groups []string) []string {
	var out []string
	for _, g := range groups {
		if policy.ValidName(g) {
			out = append(out, policy.OIDCGroup(g))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// oidcParents returns the identity provider's groups among parents,
// sorted.
func oidcParents(parents []string) []string {
	var out []string
	for _, p := range parents {
		if strings.HasPrefix(p, policy.OIDCPrefix) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// syncGroups makes sub's oidc: parents in t exactly groups.
func syncGroups(t *tx, sub string, groups []string) {
	for _, p := range t.s.eng.Parents(sub) {
		if strings.HasPrefix(p, policy.OIDCPrefix) && !slices.Contains(groups, p) {
			_ = t.Remove("g", sub, p) // a database line: only a file line refuses
		}
	}
	have := t.s.eng.Parents(sub)
	for _, g := range groups {
		if !slices.Contains(have, g) {
			t.Add("g", sub, g)
		}
	}
}

// refuseIdP writes the audit line of a refused identity provider token and
// returns the refusal.
func (s *Service) refuseIdP(c *idpClaims, reason string) error {
	s.audit(context.Background(), AuditSSO, "identity provider token refused", slog.String("user", c.username),
		slog.String("reason", reason), slog.Bool("success", false))
	return fmt.Errorf("%w: %s", ErrUnauthenticated, reason)
}

// auditIdPRefused writes the audit line of a provider's token that did not
// verify (Authenticator.idpRefused); reason never holds the token.
func (s *Service) auditIdPRefused(reason string) {
	s.audit(context.Background(), AuditSSO, "identity provider token refused", slog.String("reason", reason), slog.Bool("success", false))
}
