// Package e2e holds the end-to-end tests that drive Gatehouse's pages in
// headless Chromium: the sign-up page, and the sample ZenML dashboard
// through the zenml preset. It has no code of its own.
//
// It is a module of its own so that chromedp, which only these tests use,
// stays out of the product's go.mod: `go mod download` for the binary (as
// the Dockerfile runs it) fetches nothing of it. Its go.mod replaces the
// root module with this checkout (../), and the tests run the binary that
// internal/testkit builds from the root module, as the README installs it.
// Where no Chromium is installed they skip with a message.
package e2e
