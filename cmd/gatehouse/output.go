package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// checkOutput refuses an -o value that is not one of formats, naming the
// flag and every format it takes.
func checkOutput(got string, formats ...string) error {
	for _, f := range formats {
		if got == f {
			return nil
		}
	}
	last := len(formats) - 1
	return usageError{fmt.Errorf("--output %q: want %s or %s", got, strings.Join(formats[:last], ", "), formats[last])}
}

// printAs writes a JSON document as format: "yaml" as YAML, anything else
// as indented JSON.
func printAs(w io.Writer, format string, body json.RawMessage) error {
	if format == "yaml" {
		return printYAML(w, body)
	}
	return printJSON(w, body)
}

// printValue writes v, marshalled to JSON, as format (json or yaml).
func printValue(w io.Writer, format string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return printAs(w, format, b)
}

// printJSON writes an API answer as it came, indented for people. Runes a
// terminal must not see raw are written as JSON escapes (termSafe's \uXXXX
// is JSON's), so the output means the same to a JSON reader.
func printJSON(w io.Writer, body json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		return err
	}
	_, err := io.WriteString(w, termSafe(buf.String(), '\n')+"\n")
	return err
}

// printYAML writes a JSON document as YAML, keeping the order of its keys
// (a YAML reader gets the values a JSON reader would). Strings holding a
// rune a terminal must not see raw are double-quoted, where termSafe's
// \uXXXX is a YAML escape too, so the output means the same to a YAML
// reader.
func printYAML(w io.Writer, body json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	doc, err := yamlNode(dec)
	if err != nil {
		return fmt.Errorf("converting the answer to YAML: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("converting the answer to YAML: more than one JSON value")
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err = io.WriteString(w, termSafe(buf.String(), '\n'))
	return err
}

// yamlNode reads the next JSON value of dec as a YAML node.
func yamlNode(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if v == '{' {
			n.Kind, n.Tag = yaml.MappingNode, "!!map"
		}
		for dec.More() {
			if n.Kind == yaml.MappingNode {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, yamlString(k.(string))) // a key is always a string
			}
			item, err := yamlNode(dec)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, item)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return yamlString(v), nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(v.String(), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}, nil
	default: // nil: JSON's null
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
}

// yamlString is a string scalar; the encoder quotes it where it would read
// as another type ("true", "1"), and it is double-quoted when it holds a
// rune a terminal must not see raw.
func yamlString(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if strings.IndexFunc(s, admin.UnsafeRune) >= 0 {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}
