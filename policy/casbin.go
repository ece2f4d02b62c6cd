package policy

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
)

// newCasbin builds a Casbin enforcer for a non-default model holding lines.
// The lines go in through an adapter and Casbin's own LoadPolicy, which
// orders them as the model asks (by subject hierarchy, by priority) and
// builds the role links: the enforcer holds what Casbin's file adapter
// would give it for the same lines.
func (e *Engine) newCasbin(m model.Model, lines []Line) (enf *casbin.Enforcer, err error) {
	defer func() {
		// Casbin panics on some models (ipMatch on a path, say) instead
		// of returning an error: such a model cannot run here.
		if v := recover(); v != nil {
			enf, err = nil, fmt.Errorf("the model cannot decide requests: %v", v)
		}
	}()
	enf, err = casbin.NewEnforcer(m, linesAdapter(lines))
	if err != nil {
		return nil, err
	}
	enf.EnableAutoSave(false)
	enf.EnableLog(false)
	registerFunctions(enf, e.lookupSelfID)
	if err := InstallScopedRoles(enf); err != nil {
		return nil, err
	}
	// A first decision compiles the matcher and reports bad expressions
	// now rather than on the first request. An eval() matcher with no p
	// lines fails on nothing to evaluate; that is not a bad model.
	if _, err := enf.Enforce(Public, "/", "GET"); err != nil {
		ps, _ := enf.GetPolicy()
		if len(ps) > 0 || !strings.Contains(m["m"]["m"].Value, "eval(") {
			return nil, casbinError(err)
		}
	}
	return enf, nil
}

// casbinError keeps the first line of an error from Casbin, which turns a
// panic in a matcher function into an error that carries the stack, and
// says what it means.
func casbinError(err error) error {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	if strings.HasPrefix(msg, "panic: ") {
		return fmt.Errorf("the model cannot decide requests: %s", strings.TrimPrefix(msg, "panic: "))
	}
	return errors.New(msg)
}

// linesAdapter is a Casbin adapter that loads lines, each as Casbin's file
// adapter loads a CSV record (persist.LoadPolicyArray).
type linesAdapter []Line

func (a linesAdapter) LoadPolicy(m model.Model) error {
	for _, l := range a {
		if err := persist.LoadPolicyArray(append([]string{l.Ptype}, l.Fields...), m); err != nil {
			return l.errorf("%v", err)
		}
	}
	return nil
}

var errReadOnly = errors.New("the policy's adapter is read-only")

func (linesAdapter) SavePolicy(model.Model) error                              { return errReadOnly }
func (linesAdapter) AddPolicy(string, string, []string) error                  { return errReadOnly }
func (linesAdapter) RemovePolicy(string, string, []string) error               { return errReadOnly }
func (linesAdapter) RemoveFilteredPolicy(string, string, int, ...string) error { return errReadOnly }

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
// default model ({id}, :id, {self}, {workspace}, a final *),
// methodMatch(r.act, p.act) matches method lists like "GET|HEAD", and
// workspace(r.obj, p.obj) returns the path's segment at the pattern's
// {workspace} parameter ("" when it has none).
func registerFunctions(enf *casbin.Enforcer, selfID func(string) string) {
	var patterns sync.Map // pattern text → *pattern or error
	compiled := func(pat string) (*pattern, error) {
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
			return nil, err
		}
		return v.(*pattern), nil
	}
	enf.AddFunction("workspace", func(args ...any) (any, error) {
		if len(args) != 2 {
			return "", errors.New("workspace takes (path, pattern)")
		}
		path, _ := args[0].(string)
		pat, _ := args[1].(string)
		p, err := compiled(pat)
		if err != nil {
			return "", err
		}
		return p.workspace(path), nil
	})
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
		p, err := compiled(pat)
		if err != nil {
			return false, err
		}
		return p.match(path, self1, self2), nil
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
func (e *Engine) decideCasbin(sub, method, path string, explain bool) (d Decision, err error) {
	act := decisionMethod(method)
	e.mu.RLock()
	defer e.mu.RUnlock()
	defer func() {
		if v := recover(); v != nil { // a model that panics on this request
			d, err = Decision{}, fmt.Errorf("the model failed on %s %s: %v", method, path, v)
		}
	}()
	for _, s := range []string{sub, Public} {
		ok, rule, err := e.casbin.EnforceEx(s, path, act)
		if err != nil {
			return Decision{}, casbinError(err)
		}
		if ok {
			d := Decision{Allowed: true}
			if len(rule) > 0 {
				d.Permission = rule[0]
				if explain {
					d.Rule, d.Lines = e.describe("p", rule)
					if s == Public && sub != Public {
						d.Rule += viaPublic
					}
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

// describe renders a matched rule with its origin, and returns the line.
// Callers hold mu.
func (e *Engine) describe(ptype string, fields []string) (string, []Line) {
	l := Line{Ptype: ptype, Fields: fields}
	if f, ok := e.fileKey[l.key()]; ok {
		l = f
	}
	return l.String() + " (" + l.Origin() + ")", []Line{l}
}
