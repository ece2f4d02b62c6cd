package main

import (
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
		err := o.validate()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("--listen %s --ops-listen %s: %v", tt.listen, tt.ops, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("--listen %s --ops-listen %s: error %v, want %q", tt.listen, tt.ops, err, tt.wantErr)
		}
	}
}
