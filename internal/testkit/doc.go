// Package testkit holds what Gatehouse's tests share: a buffer that
// goroutines may write while a test reads it (LockedBuffer), polling until
// a condition holds (WaitFor), an upstream that records and echoes what
// reaches it (Upstream), a raw HTTP/1.1 exchange no client library
// normalizes (Exchange), and the harness that builds the gatehouse binary
// as the README installs it (Binary), runs `gatehouse serve` (StartServe,
// StartGatehouse, StartZenML) and drives the CLI as a user would (CLI).
// IdP is an OpenID Connect provider in the process: it signs tokens on
// demand and runs the authorization code flow with PKCE for one registered
// client, approving without a browser, and can be made to misbehave
// (SignInAs(nil), SetIDTokenSigner with SignHS256 or SignNone).
//
// Only test files and the load harness (cmd/loadtest, which runs the IdP
// for oauth2-proxy) import it: this module's, and those of the deploy and e2e
// modules, whose import paths lie below this module's, so Go's internal rule
// admits them. The product never does, and testkit imports nothing beyond
// the standard library, this module's internal/sampleapi and go-jose (a
// module the product already requires through go-oidc).
package testkit
