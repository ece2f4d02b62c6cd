package testkit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
)

// SignHS256 returns a JWT of claims signed HS256 with secret, the token a
// provider confused about algorithms (or an attacker holding the RSA public
// key as secret) would issue. Any secret length is accepted. Pass it to
// IdP.SetIDTokenSigner in a closure.
func SignHS256(t testing.TB, claims map[string]any, secret []byte) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := jwtSegment([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + jwtSegment(payload)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + jwtSegment(mac.Sum(nil))
}

// SignNone returns an unsigned JWT of claims: header
// {"alg":"none","typ":"JWT"} and an empty signature. It panics when claims
// do not marshal to JSON. It fits IdP.SetIDTokenSigner as is.
func SignNone(claims map[string]any) string {
	payload, err := json.Marshal(claims)
	if err != nil {
		panic("testkit: SignNone: " + err.Error())
	}
	return jwtSegment([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + jwtSegment(payload) + "."
}

// jwtSegment encodes b as a JWT segment (base64url without padding).
func jwtSegment(b []byte) string {
	return base64.RawURLEncoding.EncodeToString(b)
}
