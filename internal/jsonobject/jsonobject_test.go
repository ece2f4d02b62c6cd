package jsonobject

import (
	"slices"
	"testing"
)

func TestKeys(t *testing.T) {
	for _, c := range []struct {
		data string
		want []string
		ok   bool
	}{
		{`{}`, nil, true},
		{`{"a":1,"B":{"c":[1,2]},"a":null}`, []string{"a", "B", "a"}, true},
		{`{"a":1} trailing`, []string{"a"}, true}, // what follows the object is the decoder's to refuse
		{`[1]`, nil, false},
		{`null`, nil, false},
		{`{"a":`, nil, false},
		{``, nil, false},
	} {
		got, ok := Keys([]byte(c.data))
		if ok != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("Keys(%s) = %q, %v; want %q, %v", c.data, got, ok, c.want, c.ok)
		}
	}
}
