// Package proxy is Gatehouse's data plane: every request is canonicalized
// once, authenticated, decided, and only then forwarded to the upstream,
// with the path it was decided on and identity headers that only Gatehouse
// sets.
//
// The package knows nothing of users, stores or Casbin: it declares the
// small interfaces it needs (Authenticator, Authorizer, Principal) and the
// command that wires Gatehouse plugs the implementations in.
package proxy
