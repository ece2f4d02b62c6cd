package proxy

import "testing"

func TestMethodOverrideParam(t *testing.T) {
	for _, c := range []struct {
		query    string
		override bool
	}{
		{"", false},
		{"_method=DELETE", true},
		{"a=1&_method=DELETE", true},
		{"a=1;_method=PUT", true},
		{"_method", true},
		{"_method=", true},
		{"_METHOD=delete", true},
		{"%5Fmethod=DELETE", true},
		{"%5fmethod=DELETE", true},
		{"_%6Dethod=DELETE", true},
		{"_method[]=DELETE", true},
		{"_method%5B%5D=DELETE", true},
		{".method=DELETE", true},
		{"[method=DELETE", true},
		{"+_method=DELETE", true},
		{"%20%20_method=DELETE", true},
		{"x=1&&_method=DELETE&y=2", true},
		{"method=DELETE", false},
		{"-method=DELETE", false},
		{"_methods=1", false},
		{"_method_x=1", false},
		{"x_method=1", false},
		{"x=_method", false},
		{"next=/a?_method=DELETE", false}, // a value, not a parameter
		{"q=%26_method%3DDELETE", false},  // an encoded "&" is data
		{"_metho=1", false},
		{"%5Fmetho%=1", false},
		{"%zz_method=1", false},
	} {
		if got := methodOverrideParam(c.query); got != c.override {
			t.Errorf("methodOverrideParam(%q) = %v, want %v", c.query, got, c.override)
		}
	}
}

func TestMethodOverrideParamAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() {
		methodOverrideParam("name=x&sort=-created&page=2&%5Fmethod=DELETE")
	}); n != 0 {
		t.Errorf("methodOverrideParam allocates %v times per call; want 0", n)
	}
}
