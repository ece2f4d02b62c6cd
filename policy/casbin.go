package policy

import (
	"errors"
	"strings"
	"sync"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
)

// newCasbin builds a Casbin enforcer for a non-default model holding lines.
func (e *Engine) newCasbin(m model.Model, lines []Line) (*casbin.Enforcer, error) {
	enf, err := casbin.NewEnforcer(m)
	if err != nil {
		return nil, err
	}
	enf.EnableAutoSave(false)
	enf.EnableLog(false)
	registerFunctions(enf, e.lookupSelfID)
	for _, l := range lines {
		if err := enf.GetModel().AddPolicy(l.Ptype[:1], l.Ptype, l.Fields); err != nil {
			return nil, l.errorf("%v", err)
		}
	}
	if err := enf.BuildRoleLinks(); err != nil {
		return nil, err
	}
	// A first decision compiles the matcher and reports bad expressions
	// now rather than on the first request. An eval() matcher with no p
	// lines fails on nothing to evaluate; that is not a bad model.
	if _, err := enf.Enforce(Public, "/", "GET"); err != nil {
		ps, _ := enf.GetPolicy()
		if len(ps) > 0 || !strings.Contains(m["m"]["m"].Value, "eval(") {
			return nil, err
		}
	}
	return enf, nil
}

// lookupSelfID finds a user's id for {self}; without a resolver a user's id
// is its name, as in policy tests. Callers hold mu (read or write).
func (e *Engine) lookupSelfID(username string) string {
	if e.selfID == nil {
		return username
	}
	return e.selfID(username)
}

// registerFunctions adds Gatehouse's matcher functions to a Casbin
// enforcer: pathMatch(r.obj, p.obj[, r.sub]) matches the patterns of the
// default model ({id}, :id, {self}, a final *), and methodMatch(r.act,
// p.act) matches method lists like "GET|HEAD".
func registerFunctions(enf *casbin.Enforcer, selfID func(string) string) {
	var patterns sync.Map // pattern text → *pattern or error
	enf.AddFunction("pathMatch", func(args ...any) (any, error) {
		if len(args) < 2 || len(args) > 3 {
			return false, errors.New("pathMatch takes (path, pattern[, subject])")
		}
		path, _ := args[0].(string)
		pat, _ := args[1].(string)
		var self1, self2 string
		if len(args) == 3 {
			sub, _ := args[2].(string)
			if name, ok := strings.CutPrefix(sub, UserPrefix); ok {
				self1, self2 = name, selfID(name)
			}
		}
		v, ok := patterns.Load(pat)
		if !ok {
			p, err := compilePattern(pat)
			if err != nil {
				v = err
			} else {
				v = p
			}
			patterns.Store(pat, v)
		}
		if err, bad := v.(error); bad {
			return false, err
		}
		return v.(*pattern).match(path, self1, self2), nil
	})
	enf.AddFunction("methodMatch", func(args ...any) (any, error) {
		if len(args) != 2 {
			return false, errors.New("methodMatch takes (method, methods)")
		}
		m, _ := args[0].(string)
		list, _ := args[1].(string)
		return methodMatch(decisionMethod(m), list), nil
	})
}

// decideCasbin decides with Casbin itself: the user first, then the public
// role, whose rules apply to everyone. A rule that explicitly denies the
// user (a deny effect) is final: public's rules do not override it.
func (e *Engine) decideCasbin(sub, method, path string, explain bool) (Decision, error) {
	act := decisionMethod(method)
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, s := range []string{sub, Public} {
		ok, rule, err := e.casbin.EnforceEx(s, path, act)
		if err != nil {
			return Decision{}, err
		}
		if ok {
			d := Decision{Allowed: true}
			if len(rule) > 0 {
				d.Permission = rule[0]
				if explain {
					d.Rule = e.describe("p", rule)
				}
			}
			return d, nil
		}
		if s == Public || len(rule) > 0 {
			break // public asked already, or a deny rule decided
		}
	}
	return Decision{}, nil
}

// describe renders a matched rule with its origin. Callers hold mu.
func (e *Engine) describe(ptype string, fields []string) string {
	l := Line{Ptype: ptype, Fields: fields}
	if f, ok := e.fileKey[l.key()]; ok {
		l = f
	}
	return l.String() + " (" + l.Origin() + ")"
}
