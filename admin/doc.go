// Package admin is Gatehouse's control plane: users and service accounts,
// roles, role assignments, invitations, login, tokens and API keys, and the
// one authenticator that turns every kind of credential into an identity. Policy lines change through
// package policy, in the same transaction as the rows they belong with.
// Its HTTP face (the REST API, login and the sign-up page) is package
// admin/api, which maps this package's errors (errors.go) to statuses;
// admin itself serves no HTTP.
package admin
