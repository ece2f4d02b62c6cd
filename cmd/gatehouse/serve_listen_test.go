package main

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestValidateListenAddresses(t *testing.T) {
	tests := []struct {
		listen, ops string
		wantErr     string
	}{
		{"127.0.0.1:8080", "127.0.0.1:9090", ""},
		{"127.0.0.1:0", "127.0.0.1:0", ""}, // two kernel-picked ports never clash
		{":8080", ":8080", "--listen and --ops-listen must differ"},
		{"8080", ":9090", `--listen "8080": want HOST:PORT or :PORT`},
	}
	for _, tt := range tests {
		o := defaultServeOptions()
		o.upstream = "http://127.0.0.1:8237"
		o.listen, o.opsListen = tt.listen, tt.ops
		_, err := o.complete(func(string) string { return "" })
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("--listen %s --ops-listen %s: %v", tt.listen, tt.ops, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("--listen %s --ops-listen %s: error %v, want %q", tt.listen, tt.ops, err, tt.wantErr)
		}
	}
}

// TestCompleteParsesOnce: complete hands the server parsed values and the
// environment it needs, so that nothing after it parses or reads again.
func TestCompleteParsesOnce(t *testing.T) {
	o := defaultServeOptions()
	o.upstream, o.preset, o.logLevel = "http://127.0.0.1:8237/base", "zenml", "warn"
	o.trustedProxies = []string{"10.0.0.0/8", "192.168.1.7", "::ffff:10.1.2.3"}
	env := map[string]string{"GATEHOUSE_ADMIN_USERNAME": "root", "GATEHOUSE_ADMIN_PASSWORD": "a long passphrase", "GOGC": "200"}
	c, err := o.complete(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.upstream.Host != "127.0.0.1:8237" || c.upstream.Path != "/base" || c.publicURL != nil || c.preset == nil || c.preset.Name != "zenml" ||
		c.logLevel != slog.LevelWarn || c.adminUsername != "root" || c.adminPassword != "a long passphrase" || c.gc.gogc != "200" {
		t.Errorf("completed: %+v", c)
	}
	if got, want := fmt.Sprint(c.trusted), "[10.0.0.0/8 192.168.1.7/32 10.1.2.3/32]"; got != want {
		t.Errorf("trusted proxies %s, want %s", got, want)
	}
	o.publicURL, o.preset = "https://gh.example.com", ""
	if c, err = o.complete(func(string) string { return "" }); err != nil || c.publicURL.Host != "gh.example.com" || c.preset != nil {
		t.Errorf("--public-url https://gh.example.com, no preset: %+v %v", c, err)
	}
}

// TestCompleteReportsEveryProblem: every bad flag is named in one error.
func TestCompleteReportsEveryProblem(t *testing.T) {
	o := defaultServeOptions()
	o.upstream, o.publicURL, o.preset, o.logLevel = "ftp://x", "x", "nope", "loud"
	o.trustedProxies, o.tokenTTL = []string{"10.0.0.0/33"}, 0
	_, err := o.complete(func(string) string { return "" })
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`--upstream "ftp://x"`, `--public-url "x"`, "--preset: unknown preset", `--trusted-proxies "10.0.0.0/33"`,
		"--token-ttl must be positive", `--log-level "loud"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q:\n%v", want, err)
		}
	}
}
