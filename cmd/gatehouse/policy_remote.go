package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// checkRequest is the body of POST /gatehouse/v1/check.
type checkRequest struct {
	User   string `json:"user"`
	Method string `json:"method"`
	Path   string `json:"path"`
}

// maxAnswer bounds what is read of a server's answer.
const maxAnswer = 1 << 20

// postCheck asks the server at base to decide req with POST
// /gatehouse/v1/check, authenticated with token.
func postCheck(ctx context.Context, client *http.Client, base, token string, req checkRequest) (checkResult, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return checkResult{}, usageError{fmt.Errorf("server %q: want an http:// or https:// URL", base)}
	}
	if token == "" {
		return checkResult{}, usageError{errors.New("no token: set --token or GATEHOUSE_TOKEN (checking needs the read permission)")}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return checkResult{}, err
	}
	endpoint := strings.TrimRight(base, "/") + "/gatehouse/v1/check"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return checkResult{}, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(hreq)
	if err != nil {
		return checkResult{}, fmt.Errorf("asking %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return checkResult{}, fmt.Errorf("reading the answer of %s: %w", endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		return checkResult{}, serverError(endpoint, resp.Status, data)
	}
	var res checkResult
	if err := json.Unmarshal(data, &res); err != nil {
		return checkResult{}, fmt.Errorf("%s answered something else than a decision: %w", endpoint, err)
	}
	return res, nil
}

// serverError describes a refused request from the API's error body
// {"error": {"code", "message"}}, or the status alone.
func serverError(endpoint, status string, body []byte) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return fmt.Errorf("%s: %s: %s: %s", endpoint, status, e.Error.Code, e.Error.Message)
	}
	return fmt.Errorf("%s: %s", endpoint, status)
}
