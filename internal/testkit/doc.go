// Package testkit holds what Gatehouse's tests share: a buffer that
// goroutines may write while a test reads it, polling until a condition
// holds, an upstream that records what reaches it, and the harness that
// builds the gatehouse binary, runs `gatehouse serve` and drives the CLI as
// a user would.
//
// Only test files import it: this module's, and those of the deploy and e2e
// modules, whose import paths lie below this module's, so Go's internal rule
// admits them. The product never does, and testkit imports nothing beyond
// the standard library and this module.
package testkit
