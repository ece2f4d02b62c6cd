package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// TestPrintYAMLMeansWhatTheJSONMeans: -o yaml prints the API's JSON as
// YAML that a YAML reader decodes to the same values, strings that would
// read as another type included, with the server's key order, and with
// no rune a terminal must not see raw.
func TestPrintYAMLMeansWhatTheJSONMeans(t *testing.T) {
	docs := []string{
		`{"items":[]}`,
		`{"b":1,"a":"x","m":{},"l":[{"x":1.5,"y":null,"z":false,"w":-3e7}]}`,
		`{"s":"true","n":"1","e":"","f":"1.5","nul":"null","t":"2026-01-01T00:00:00Z","c":"a: b","h":"#x","d":"- x","q":"'\""}`,
		`{"bidi":"a\u202eb","bell":"a\u0007b","nl":"one\ntwo","del":"\u007f","c1":"\u0085","ls":"\u2028","lrm":"\u200e","alm":"\u061c"}`,
		`{"key\u202e":"v","key\nnl":1}`,
		`[1,"two",[3],{"four":4}]`,
		`"just a string"`,
		`{"url":"http://127.0.0.1:8080/gatehouse/signup?token=JDP5YrDC2ypLQmwmDj0Iq2gWW5bA0LSFv6vx1DY716I` + strings.Repeat("x", 100) + `"}`,
	}
	for _, doc := range docs {
		var out bytes.Buffer
		if err := printYAML(&out, json.RawMessage(doc)); err != nil {
			t.Errorf("%s: %v", doc, err)
			continue
		}
		if i := strings.IndexFunc(out.String(), func(r rune) bool { return admin.UnsafeRune(r) && r != '\n' }); i >= 0 {
			t.Errorf("%s: the YAML holds a raw unsafe rune at %d:\n%s", doc, i, out.String())
		}
		var fromYAML, fromJSON any
		if err := yaml.Unmarshal(out.Bytes(), &fromYAML); err != nil {
			t.Errorf("%s: the output is not YAML (%v):\n%s", doc, err, out.String())
			continue
		}
		if err := json.Unmarshal([]byte(doc), &fromJSON); err != nil {
			t.Fatal(err)
		}
		y, _ := json.Marshal(fromYAML)
		j, _ := json.Marshal(fromJSON)
		if !bytes.Equal(y, j) {
			t.Errorf("%s: a YAML reader gets %s, a JSON reader %s; the YAML:\n%s", doc, y, j, out.String())
		}
	}

	var out bytes.Buffer
	if err := printYAML(&out, json.RawMessage(`{"username":"bob","active":true,"roles":["guest"],"created_at":"2026-01-01T00:00:00Z"}`)); err != nil {
		t.Fatal(err)
	}
	want := "username: bob\nactive: true\nroles:\n  - guest\ncreated_at: \"2026-01-01T00:00:00Z\"\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant (the server's key order):\n%s", out.String(), want)
	}
	if err := printYAML(&out, json.RawMessage(`{"a":1} {"b":2}`)); err == nil {
		t.Error("two JSON values were printed as one YAML document")
	}
}

func TestCheckOutput(t *testing.T) {
	if err := checkOutput("yaml", "table", "json", "yaml"); err != nil {
		t.Errorf("yaml: %v", err)
	}
	err := checkOutput("xml", "table", "json", "yaml")
	var ue usageError
	if err == nil || err.Error() != `--output "xml": want table, json or yaml` || !errors.As(err, &ue) {
		t.Errorf("xml: %v, want a usage error naming the flag and the formats", err)
	}
}
