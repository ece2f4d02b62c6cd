// Package jsonobject reads a JSON object's keys as they are written: in
// order, in their exact case, repeats included. encoding/json hides them:
// it matches {"Username": …} to a field named username and lets the last
// of two equal keys win, so an object could mean one thing to Gatehouse and
// another to a reader that matches exactly or keeps the first. The token
// parser (admin) and the admin API's body decoder (admin/api) refuse such
// objects by what Keys reads.
package jsonobject

import (
	"bytes"
	"encoding/json"
)

// Keys returns the keys of the JSON object that data starts with, in order
// and repeats included, and false when data does not start with a readable
// object.
func Keys(data []byte) ([]string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return nil, false
		}
		keys = append(keys, key)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, false
		}
	}
	return keys, true
}
