// Package admin is Gatehouse's control plane: users, roles, role
// assignments, invitations, login and tokens. Policy lines change through
// package policy, in the same transaction as the rows they belong with.
// Its HTTP face (the REST API, login and the sign-up page) is package
// admin/api, which maps this package's errors (errors.go) to statuses;
// admin itself serves no HTTP.
package admin
