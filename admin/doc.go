// Package admin is Gatehouse's control plane: users, roles, role
// assignments, invitations, login and tokens, and the REST API and sign-up
// page that manage them. Policy lines change through package policy, in the
// same transaction as the rows they belong with.
package admin
