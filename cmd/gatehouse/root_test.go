package main

import (
	"runtime"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestVersionOutput(t *testing.T) {
	stdout, stderr, code := clientRun(t, nil, "", "version")
	if code != 0 || stdout != "gatehouse "+version+"\n" {
		t.Errorf("version: exit %d: %q %s", code, stdout, stderr)
	}
	stdout, stderr, code = clientRun(t, nil, "", "--version")
	if code != 0 || stdout != "gatehouse "+version+"\n" {
		t.Errorf("--version: exit %d: %q %s, want what gatehouse version prints", code, stdout, stderr)
	}
	stdout, stderr, code = clientRun(t, nil, "", "version", "-o", "json")
	v := decodeJSON[versionInfo](t, stdout)
	if code != 0 || v.Version != version || v.GoVersion != runtime.Version() || v.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version -o json: exit %d: %+v %s", code, v, stderr)
	}
	stdout, stderr, code = clientRun(t, nil, "", "version", "-o", "yaml")
	var y map[string]string
	if err := yaml.Unmarshal([]byte(stdout), &y); code != 0 || err != nil || y["version"] != version || y["go_version"] != runtime.Version() {
		t.Errorf("version -o yaml: exit %d: %v\n%s%s", code, err, stdout, stderr)
	}
	_, stderr, code = clientRun(t, nil, "", "version", "-o", "xml")
	if code != 2 || !strings.Contains(stderr, `--output "xml": want text, json or yaml`) {
		t.Errorf("version -o xml: exit %d: %s", code, stderr)
	}
}
