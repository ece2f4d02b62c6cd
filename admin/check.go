package admin

import (
	"context"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// CheckResult is the answer of an explained decision.
type CheckResult struct {
	Allowed bool   `json:"allowed"`
	Rule    string `json:"rule"`
}

// Check decides a request for a user (by name or id; "" for an anonymous
// caller) and names the deciding rule. path must be canonical.
func (s *Service) Check(ctx context.Context, user, method, path string) (CheckResult, error) {
	sub, id, name := "", "", ""
	if user != "" {
		u, err := s.findUser(s.db.WithContext(ctx), user)
		if err != nil {
			return CheckResult{}, err
		}
		sub, id, name = policy.UserSubject(u.Username), u.ID, u.Username
	}
	d, err := s.eng.Explain(sub, id, name, method, path)
	if err != nil {
		return CheckResult{}, err
	}
	return CheckResult{Allowed: d.Allowed, Rule: d.Rule}, nil
}
