package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse-dev/gatehouse/admin"
	"github.com/gatehouse-dev/gatehouse/internal/jsonobject"
)

// bind decodes a JSON body of at most maxBody bytes into dst, strictly:
// unknown fields (in the exact case of the field names), repeated fields,
// wrong types and trailing data are errors naming the field.
func bind(c *gin.Context, dst any) error {
	data, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	if err != nil {
		return jsonError(err)
	}
	return decodeBody(data, dst)
}

// decodeBody is bind's decoding of a body already read.
func decodeBody(data []byte, dst any) error {
	if err := exactKeys(data, dst); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: unexpected data after the JSON object", admin.ErrInvalid)
	}
	if _, ok := jsonobject.Keys(data); !ok {
		return fmt.Errorf("%w: the body must be a JSON object", admin.ErrInvalid) // null decodes into anything
	}
	return nil
}

// exactKeys checks the keys of a JSON object against dst's fields:
// encoding/json takes {"Username": …} for "username" and lets the last of
// two equal keys win, so a body could mean one thing to Gatehouse and
// another to a reader that matches exactly or keeps the first. Anything
// that is not an object with readable keys is left for Decode to report.
func exactKeys(data []byte, dst any) error {
	t := reflect.TypeOf(dst)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	keys, ok := jsonobject.Keys(data)
	if t.Kind() != reflect.Struct || !ok {
		return nil
	}
	names := jsonNames(t)
	seen := make(map[string]bool, len(keys))
	for _, key := range keys {
		switch {
		case seen[key]:
			return fieldErr(key, "appears more than once")
		case !names[key]:
			return fieldErr(key, "unknown field (field names are case-sensitive)")
		}
		seen[key] = true
	}
	return nil
}

// jsonNames returns the JSON names of a struct's fields.
func jsonNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			for n := range jsonNames(f.Type) { // promoted fields
				names[n] = true
			}
		case name == "-" || !f.IsExported():
		case name == "":
			names[f.Name] = true
		default:
			names[name] = true
		}
	}
	return names
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return err
	case errors.Is(err, os.ErrDeadlineExceeded):
		return admin.ErrTimeout
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: the request body is empty; send a JSON object", admin.ErrInvalid)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: malformed JSON: unexpected end of input", admin.ErrInvalid)
	case errors.As(err, &syn):
		return fmt.Errorf("%w: malformed JSON at byte %d: %v", admin.ErrInvalid, syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Errorf("%w: the body must be a JSON object", admin.ErrInvalid)
		}
		return fieldErr(typ.Field, "must be a JSON %s", jsonType(typ.Type.Kind().String()))
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fieldErr(strings.Trim(f, `"`), "unknown field")
	}
	return fmt.Errorf("%w: malformed JSON: %v", admin.ErrInvalid, err)
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	}
	return "number"
}
