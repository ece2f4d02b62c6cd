package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// ReportRow is one row of the access report, the control plane's own
// shape.
type ReportRow = admin.ReportRow

// ReportFilter narrows the access report; an empty field does not filter.
type ReportFilter = admin.ReportFilter

// AccessReport asks for the access report as format ("json" or "csv") and
// returns the answer's body as it streams in; the caller reads it to the
// end, or cancels ctx, and closes it. The request has no overall timeout,
// since a report of a large store takes a while: ctx bounds it. An error
// answer is an *Error, as for every other call.
func (c *Client) AccessReport(ctx context.Context, f ReportFilter, format string) (io.ReadCloser, error) {
	q := url.Values{"format": {format}}
	for k, v := range map[string]string{"user": f.User, "role": f.Role, "team": f.Team, "method": f.Method, "path": f.Path} {
		if v != "" {
			q.Set(k, v)
		}
	}
	req, err := c.newRequest(ctx, http.MethodGet, "/access-report", q, nil)
	if err != nil {
		return nil, err
	}
	if format == "csv" {
		req.Header.Set("Accept", "text/csv")
	}
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", c.base, unwrapURLError(err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
		return nil, decodeError(resp, raw)
	}
	return resp.Body, nil
}

// ReportRows reads a JSON access report ({"items":[…]}) from r and calls
// fn with each row as it arrives.
func ReportRows(r io.Reader, fn func(ReportRow) error) error {
	dec := json.NewDecoder(r)
	for _, want := range []any{json.Delim('{'), "items", json.Delim('[')} {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("reading the access report: %w", err)
		}
		if tok != want {
			return fmt.Errorf("reading the access report: unexpected %v", tok)
		}
	}
	for dec.More() {
		var row ReportRow
		if err := dec.Decode(&row); err != nil {
			return fmt.Errorf("reading the access report: %w", err)
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // ]
		return fmt.Errorf("reading the access report: %w", err)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return fmt.Errorf("reading the access report: the answer was cut short")
	}
	return nil
}
