package policy

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// adminLines keep the admin role's permissions in test policies.
const adminLines = "g, admin, read\ng, admin, write\ng, admin, me\n"

// customModel is a stock keyMatch model with roles, as Casbin documents it.
const customModel = `[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && keyMatch(r.obj, p.obj) && r.act == p.act
`

func TestValidateDirReportsEveryProblemWithItsLine(t *testing.T) {
	cases := []struct {
		name   string
		model  string // "" for no model.conf
		policy string
		want   []string // every problem, in order
	}{
		{
			name:   "valid default",
			policy: "p, read, /*, GET\np, write, /*, POST\n" + adminLines,
		},
		{
			name:   "malformed and wrong lines",
			policy: adminLines + "p, read, /x\nx, a, b\np, read, api/x, GET\np, read, /x, get\ng, a\np, bad name, /x, GET\np, read, \"/x, GET\ng, user:a, user:b\n",
			want: []string{
				"d/policy.csv:4: p line has 2 values, the model's p wants 3",
				`d/policy.csv:5: unknown line type "x"`,
				`d/policy.csv:6: invalid path pattern "api/x": must start with /`,
				`d/policy.csv:7: invalid method "get"`,
				"d/policy.csv:8: g line has 1 values, the model's g wants 2",
				`d/policy.csv:9: invalid subject "bad name"`,
				"d/policy.csv:10: malformed line",
				`d/policy.csv:11: "user:b" cannot be a role`,
			},
		},
		{
			name:   "admin check with bad p lines",
			policy: "g, admin, read\np, read, /x, get\n",
			want: []string{
				"d/policy.csv:1: the admin role must keep read, write and me; it lacks write, me",
				`d/policy.csv:2: invalid method "get"`,
			},
		},
		{
			name:   "admin loses permissions",
			policy: "p, read, /*, GET\n\ng, guest, read\ng, admin, read\n",
			want:   []string{"d/policy.csv:4: the admin role must keep read, write and me; it lacks write, me"},
		},
		{
			name:   "admin has no line at all",
			policy: "p, read, /*, GET\n# end\n",
			want:   []string{"d/policy.csv:1: the admin role must keep read, write and me; it lacks read, write, me"},
		},
		{
			name:   "admin check waits for lines that did not parse",
			policy: "g, admin, read\ng, admin, write\n\"g, admin, me\n",
			want:   []string{"d/policy.csv:3: malformed line"},
		},
		{
			name: "g lines giving what nothing defines",
			policy: adminLines + "g, guest, raed\ng, guest, me\ng, releaser, deployer\ng, deployer, deploy\np, deploy, /d, POST\n" +
				"g, ops, reviewer\ng, ops, Deploy\ng, ops, public\ng, ops, releasr\ng, auditor, read\n",
			want: []string{
				`d/policy.csv:4: unknown role or permission "raed": no p line names it, no g line gives it a role or permission, and it is not built in (admin, read, write, me, public); did you mean "read"?`,
				`d/policy.csv:9: unknown role or permission "reviewer": no p line names it, no g line gives it a role or permission, and it is not built in (admin, read, write, me, public); define it (a p line, or a g line giving it a role or permission) or fix the name`,
				`d/policy.csv:10: unknown role or permission "Deploy": no p line names it, no g line gives it a role or permission, and it is not built in (admin, read, write, me, public); did you mean "deploy"?`,
				`d/policy.csv:12: unknown role or permission "releasr": no p line names it, no g line gives it a role or permission, and it is not built in (admin, read, write, me, public); did you mean "releaser"?`,
			},
		},
		{
			name:   "a g line with a bad parent is reported once",
			policy: adminLines + "g, guest, rea d\ng, guest, user:x\n",
			want:   []string{`d/policy.csv:4: invalid name "rea d"`, `d/policy.csv:5: "user:x" cannot be a role`},
		},
		{
			name:   "an identity provider's groups map to roles",
			policy: "p, read, /*, GET\np, write, /*, POST\n" + adminLines + "g, editor, write\ng, oidc:eng, editor\ng, oidc:ops, admin\ng, guest, oidc:eng\ng, oidc:bad name, guest\n",
			want:   []string{`d/policy.csv:10: invalid name "oidc:bad name"`},
		},
		{
			name: "teams sit between users and roles",
			policy: "p, read, /*, GET\np, write, /*, POST\n" + adminLines +
				"g, team:ops, admin\ng, user:ann, team:ops\ng, team:ops, team:dev\ng, guest, team:ops\n" +
				"g, oidc:eng, team:ops\ng, team:ops, oidc:eng\np, team:ops, /x, GET\ng, team:bad name, admin\ng, team:ops, admni\n",
			want: []string{
				`d/policy.csv:8: "team:ops" cannot be a member of "team:dev": a team's members are users (g, user:NAME, team:dev)`,
				`d/policy.csv:9: "guest" cannot be a member of "team:ops": a team's members are users (g, user:NAME, team:ops)`,
				`d/policy.csv:10: "oidc:eng" cannot be a member of "team:ops"`,
				`d/policy.csv:11: "team:ops" cannot hold "oidc:eng": a team holds roles (g, team:ops, ROLE)`,
				`d/policy.csv:12: "team:ops" cannot have rules of its own`,
				`d/policy.csv:13: invalid name "team:bad name"`,
				`d/policy.csv:14: unknown role or permission "admni"`,
			},
		},
		{
			name:   "names are not checked while lines do not parse",
			policy: adminLines + "g, guest, reader\n\"p, reader, /x, GET\n",
			want:   []string{"d/policy.csv:5: malformed line"},
		},
		{
			name:   "a custom model's subject may be any value",
			model:  strings.Replace(customModel, "p = sub, obj, act", "p = priority, sub, obj, act", 1),
			policy: adminLines + "p, 10, deny_group, /x, GET\ng, alice, deny_group\ng, alice, deny_grop\n",
			want:   []string{`d/policy.csv:6: unknown role or permission "deny_grop": no p line names it, no g line gives it a role or permission, and it is not built in (admin, read, write, me, public); did you mean "deny_group"?`},
		},
		{
			name:   "unknown section and key",
			model:  strings.Replace(customModel, "[matchers]", "[matcher]", 1) + "[extra]\nx = 1\n",
			policy: adminLines,
			want: []string{
				"d/model.conf:13: unknown section [matcher]",
				"d/model.conf:15: unknown section [extra]",
				"d/model.conf:16: missing section [matchers]",
			},
		},
		{
			name:   "malformed model lines",
			model:  "# a model\nr = sub, obj, act\n" + strings.Replace(customModel, "g = _, _", "g = _, _\ng _, _\nq = x\ng = _, _, _", 1),
			policy: adminLines,
			want: []string{
				`d/model.conf:2: "r = sub, obj, act" is outside any section`,
				`d/model.conf:11: malformed line "g _, _": want key = value`,
				`d/model.conf:12: key "q" in [role_definition] is not read by Casbin`,
				"d/model.conf:13: g is defined twice (first on line 10)",
			},
		},
		{
			name:   "undefined function",
			model:  strings.Replace(customModel, "keyMatch(r.obj, p.obj)", "keyMatch(r.obj, p.obj) && myMatch(r.obj) && g2(r.sub, 'x')", 1),
			policy: adminLines,
			want: []string{
				"d/model.conf:14: m calls undefined function myMatch()",
				"d/model.conf:14: m calls undefined function g2()",
			},
		},
		{
			name:   "functions in quotes and accessors are not calls",
			model:  strings.Replace(customModel, "r.act == p.act", "r.act == p.act && r.sub != 'f(x)' && r.sub in ('a', 'b')", 1),
			policy: adminLines,
		},
		{
			name:   "request definition",
			model:  strings.Replace(customModel, "r = sub, obj, act", "r = sub, obj", 1),
			policy: adminLines,
			want:   []string{"d/model.conf:2: the request definition must be r = sub, obj, act"},
		},
		{
			name:   "bad matcher expression",
			model:  strings.Replace(customModel, "r.act == p.act", "r.act == p.act &&", 1),
			policy: adminLines,
			want:   []string{"d/model.conf:14: "},
		},
		{
			name:   "custom model lines",
			model:  customModel,
			policy: adminLines + "p, alice, /x\ng2, a, b\np, alice, /x/*, GET\n",
			want: []string{
				"d/policy.csv:4: p line has 2 values, the model's p wants 3",
				`d/policy.csv:5: line type "g2" is not defined by the model`,
			},
		},
		{
			name:   "pathMatch patterns are checked in custom models",
			model:  strings.Replace(customModel, "keyMatch(r.obj, p.obj) && r.act == p.act", "pathMatch(r.obj, p.obj) && methodMatch(r.act, p.act)", 1),
			policy: adminLines + "p, alice, /x/*/y, GET\np, alice, /x, get\np, alice, /x, GET\n",
			want: []string{
				`d/policy.csv:4: invalid path pattern "/x/*/y"`,
				`d/policy.csv:5: invalid method "get"`,
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fsys := fstest.MapFS{PolicyFile: {Data: []byte(c.policy)}}
			if c.model != "" {
				fsys[ModelFile] = &fstest.MapFile{Data: []byte(c.model)}
			}
			got := ValidateDir(fsys, "d")
			if len(got) != len(c.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(got), len(c.want), errors.Join(got...))
			}
			for i, w := range c.want {
				if !strings.HasPrefix(got[i].Error(), w) && !strings.Contains(got[i].Error(), w) {
					t.Errorf("problem %d = %q, want it to start with %q", i, got[i], w)
				}
				var le *LineError
				if !errors.As(got[i], &le) || le.Num == 0 {
					t.Errorf("problem %d names no line: %v", i, got[i])
				}
			}
		})
	}
}

func TestValidateDirMissingPolicy(t *testing.T) {
	got := ValidateDir(fstest.MapFS{}, "d")
	if len(got) != 1 || !strings.HasPrefix(got[0].Error(), "d/policy.csv: ") {
		t.Fatalf("got %v", got)
	}
}

func TestRevisionTellsMissingModelFromEmptyModel(t *testing.T) {
	policy := []byte(adminLines)
	none, _ := (&dirContent{dir: "d", policy: policy}).files()
	empty, _ := (&dirContent{dir: "d", policy: policy, model: []byte{}}).files()
	if none.Revision == empty.Revision {
		t.Fatal("a missing and an empty model.conf have the same revision")
	}
}
