package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// checkOptions are the flags of policy check.
type checkOptions struct {
	user, method, path string
	roles              []string
	policyDir          string
	output             string
	client             clientOptions // the server, as for every client command
}

// checkResult is the answer of policy check, locally or from the server's
// POST /gatehouse/v1/check.
type checkResult struct {
	Allowed bool   `json:"allowed"`
	Rule    string `json:"rule"`
}

func (a *app) policyCheckCmd() *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check --method M --path P [--user U] [--role R]... [--policy-dir DIR]",
		Short: "Decide one request and print the decision and the deciding rule",
		Long: `Decide one request. With --policy-dir the policy files are evaluated
locally, the user holding exactly the roles given with --role (a user's id is
its name, so {self} matches it); a role the files do not define is refused. Without it the running server decides (POST
/gatehouse/v1/check) with the user's real roles, like every client command:
on --server (env GATEHOUSE_SERVER, else the last login) with GATEHOUSE_TOKEN
or the stored login; this needs read.
Without --user the request is anonymous.

The exit code is 0 whether the request is allowed or denied; read the
decision from the output (-o json: {"allowed": bool, "rule": "..."}; -o yaml:
the same as YAML). It is 1 when no decision could be made and 2 for a usage
error.`,
		Example: `  gatehouse policy check --policy-dir policy/ --user rita --role releaser --method POST --path /api/v1/deployments/d1
  gatehouse policy check --policy-dir policy/ --method GET --path /health -o json
  GATEHOUSE_SERVER=https://gatehouse.example.com gatehouse policy check --user gus --method DELETE --path /api/v1/pipelines/p1`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.complete(cmd, a.env); err != nil {
				return err
			}
			var res checkResult
			var err error
			if o.policyDir != "" {
				res, err = o.local(cmd.Context())
			} else {
				res, err = a.remoteCheck(cmd.Context(), o)
			}
			if err != nil {
				return err
			}
			return a.printCheck(o, res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.user, "user", "", "user name (or id, against a server); leave out for an anonymous request")
	f.StringSliceVar(&o.roles, "role", nil, "a role the user holds in a local check (repeatable); needs --policy-dir")
	f.StringVar(&o.method, "method", "", "HTTP method (required): "+policy.MethodsWanted)
	f.StringVar(&o.path, "path", "", "request path (required); canonicalized as the proxy does")
	f.StringVar(&o.policyDir, "policy-dir", "", "evaluate these policy files locally instead of asking a server")
	f.StringVar(&o.client.server, "server", "", "URL of the Gatehouse server (env GATEHOUSE_SERVER; default: the server of the last login)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text, json or yaml")
	return cmd
}

// complete checks the flags. Only the server and token come from the
// environment (as for every client command): a user or path taken from the
// environment by accident would answer another question.
func (o *checkOptions) complete(cmd *cobra.Command, getenv env) error {
	var errs []error
	switch {
	case o.method == "":
		errs = append(errs, errors.New("--method is required"))
	case !policy.ValidMethod(o.method):
		errs = append(errs, fmt.Errorf("--method: %s", policy.MethodError(o.method)))
	}
	if o.path == "" {
		errs = append(errs, errors.New("--path is required"))
	}
	if err := checkOutput(o.output, "text", "json", "yaml"); err != nil {
		errs = append(errs, err)
	}
	if o.user != "" && o.policyDir != "" && !policy.ValidName(o.user) {
		errs = append(errs, fmt.Errorf("--user %q: names use [A-Za-z0-9._@-]", o.user))
	}
	for _, r := range o.roles {
		if !policy.ValidName(r) {
			errs = append(errs, fmt.Errorf("--role %q: names use [A-Za-z0-9._@-]", r))
		}
	}
	if len(o.roles) > 0 && o.user == "" {
		errs = append(errs, errors.New("--role needs --user: an anonymous request holds no roles"))
	}
	if len(o.roles) > 0 && o.policyDir == "" {
		errs = append(errs, errors.New("--role needs --policy-dir: a server decides with the user's real roles"))
	}
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

// remoteCheck asks the server, through the client every command uses.
func (a *app) remoteCheck(ctx context.Context, o *checkOptions) (checkResult, error) {
	o.client.output = "table"
	c, err := a.connect(&o.client)
	if err != nil {
		return checkResult{}, err
	}
	res, err := c.Check(ctx, o.user, o.method, o.path)
	if err != nil {
		return checkResult{}, o.client.apiError(err)
	}
	return checkResult{Allowed: res.Value.Allowed, Rule: res.Value.Rule}, nil
}

// local decides with the policy files of --policy-dir and the --role
// fixtures.
func (o *checkOptions) local(ctx context.Context) (checkResult, error) {
	dir, fsys, err := policyDir(o.policyDir)
	if err != nil {
		return checkResult{}, err
	}
	files, err := policy.LoadDir(fsys, dir)
	if err != nil {
		return checkResult{}, err
	}
	if err := checkRoles(files, dir, o.roles); err != nil {
		return checkResult{}, err
	}
	path, err := proxy.Canonicalize(o.path)
	if err != nil {
		return checkResult{}, fmt.Errorf("--path %q: the proxy refuses it (400): %w", o.path, err)
	}
	files.Lines = slices.Clone(files.Lines)
	for i, r := range o.roles {
		files.Lines = append(files.Lines, policy.Line{Ptype: "g", Fields: []string{policy.UserSubject(o.user), r}, File: "--role", Num: i + 1})
	}
	eng, err := policy.New(ctx, nil, files, nil)
	if err != nil {
		return checkResult{}, err
	}
	sub := ""
	if o.user != "" {
		sub = policy.UserSubject(o.user)
	}
	d, err := eng.Explain(sub, o.user, o.user, o.method, path)
	if err != nil {
		return checkResult{}, err
	}
	return checkResult{Allowed: d.Allowed, Rule: d.Rule}, nil
}

// checkRoles refuses, as a usage error, a --role that the policy files of
// dir do not define: a misspelt role would hold nothing and the answer
// would be a plausible "denied".
func checkRoles(files *policy.Files, dir string, roles []string) error {
	names := files.Names()
	var errs []error
	for _, r := range roles {
		if !names.Has(r) {
			errs = append(errs, fmt.Errorf("--role %q: no role or permission of that name in %s%s", r, dir, names.Hint(r)))
		}
	}
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

func (a *app) printCheck(o *checkOptions, res checkResult) error {
	switch o.output {
	case "json": // one line, as scripts have read it so far
		return json.NewEncoder(a.stdout).Encode(res)
	case "yaml":
		return printValue(a.stdout, o.output, res)
	}
	who := "anonymous"
	if o.user != "" {
		who = o.user
	}
	if res.Allowed {
		fmt.Fprintf(a.stdout, "allowed: %s %s for %s\nrule: %s\n", o.method, o.path, who, res.Rule)
		return nil
	}
	fmt.Fprintf(a.stdout, "denied: %s %s for %s\nrule: none allows it\n", o.method, o.path, who)
	return nil
}
