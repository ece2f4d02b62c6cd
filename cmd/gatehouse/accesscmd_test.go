package main

import (
	"strings"
	"testing"
)

const reportJSON = `{"items":[` +
	`{"user":"alice","kind":"user","active":true,"permission":"write","workspace":"","via":["user:alice","team:ml","writer","write"]},` +
	`{"user":"ci","kind":"service_account","active":false,"permission":"read","workspace":"","via":["user:ci","guest","read"]}]}` + "\n"

const routeJSON = `{"items":[` +
	`{"user":"*","kind":"anonymous","active":true,"permission":"public","workspace":"","via":["public"],"rule":"p, public, /health, GET (policy.csv:6)"}]}`

const reportCSV = "user,kind,active,permission,workspace,via,rule\nalice,user,true,write,,user:alice > team:ml > writer > write,\n"

// TestAccessReportCommand: the report as a table (workspace "*", the chain
// joined with " > ", RULE only for a route), the server's JSON and CSV as
// they came, the filters sent as query parameters, and the mistakes.
func TestAccessReportCommand(t *testing.T) {
	f := &fakeAPI{answers: map[string]struct {
		status int
		body   string
	}{
		"GET /gatehouse/v1/access-report?format=json":                            {200, reportJSON},
		"GET /gatehouse/v1/access-report?format=json&team=ml":                    {200, reportJSON},
		"GET /gatehouse/v1/access-report?format=json&method=GET&path=%2Fhealth":  {200, routeJSON},
		"GET /gatehouse/v1/access-report?format=csv&role=writer":                 {200, reportCSV},
		"GET /gatehouse/v1/access-report?format=json&user=ghost":                 {404, `{"error":{"code":"not_found","message":"user \"ghost\" not found"}}`},
		"GET /gatehouse/v1/access-report?format=json&method=GET&path=%2Fa%252Fb": {400, `{"error":{"code":"invalid_field","message":"path: an encoded \"/\" in the path"}}`},
		"GET /gatehouse/v1/access-report?format=json&user=cut":                   {200, `{"items":[{"user":"cut","kind":"user"`},
	}}
	env := serveFake(t, f)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"access", "report"}, "" +
			"USER    KIND              ACTIVE   PERMISSION   WORKSPACE   VIA\n" +
			"alice   user              true     write        *           user:alice > team:ml > writer > write\n" +
			"ci      service_account   false    read         *           user:ci > guest > read\n"},
		{[]string{"access", "report", "--team", "ml", "-o", "json"}, reportJSON},
		{[]string{"access", "report", "--method", "GET", "--path", "/health"}, "" +
			"USER   KIND        ACTIVE   PERMISSION   WORKSPACE   VIA      RULE\n" +
			"*      anonymous   true     public       *           public   p, public, /health, GET (policy.csv:6)\n"},
		{[]string{"access", "report", "--role", "writer", "-o", "csv"}, reportCSV},
	} {
		stdout, stderr, code := clientRun(t, env, "", c.args...)
		if code != 0 || stderr != "" || stdout != c.want {
			t.Errorf("%v: exit %d, stderr %q, stdout\n%s\nwant\n%s", c.args, code, stderr, stdout, c.want)
		}
	}
	for route, want := range map[string]string{
		"GET /gatehouse/v1/access-report?format=json&team=ml":    "application/json",
		"GET /gatehouse/v1/access-report?format=csv&role=writer": "text/csv",
	} {
		if got := f.accept[route]; got != want {
			t.Errorf("%s sent Accept %q, want %q", route, got, want)
		}
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"access", "report", "--user", "ghost"}, 1, `user "ghost" not found`},
		{[]string{"access", "report", "--method", "GET", "--path", "/a%2Fb"}, 1, `--path: an encoded "/"`},
		{[]string{"access", "report", "--user", "cut"}, 1, "reading the access report"},
		{[]string{"access", "report", "--method", "GET"}, 2, "--method needs --path"},
		{[]string{"access", "report", "--path", "/x"}, 2, "--path needs --method"},
		{[]string{"access", "report", "--user", "a", "--team", "b"}, 2, "give one of --user, --role and --team"},
		{[]string{"access", "report", "-o", "yaml"}, 2, `want table, json or csv`},
		{[]string{"access", "report", "-o", "xml"}, 2, `--output "xml": want table, json or csv`},
		{[]string{"access"}, 2, "needs a command"},
	} {
		_, stderr, code := clientRun(t, env, "", c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d saying %q", c.args, code, stderr, c.code, c.msg)
		}
	}
}
