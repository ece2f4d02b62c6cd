// Package policy decides requests.
//
// A decision is a Casbin request (subject, path, method): the subject is a
// user ("user:<name>") or the anonymous caller, roles and permissions are
// reached through g lines, and p lines say which paths and methods a
// permission opens. The policy is the union of a file layer (the embedded
// defaults or the files of --policy-dir) and a database layer (the lines the
// admin API writes through gorm-adapter).
//
// With the embedded default model the engine compiles the policy into a
// route index and answers without calling Casbin's Enforce, which walks every
// p line and allocates on each call; the compiled form is checked against
// Casbin's own decisions by differential tests. Any other model is decided by
// Casbin itself.
//
// Diff compares two versions of a policy directory by the decisions they
// make, and replays the decisions an audit log recorded with both.
package policy
