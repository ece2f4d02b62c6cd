package sampleapi

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// The dashboard: a small single-page app served from the same origin as the
// API, the way ZenML 0.40's server serves its own (index.html at / and at
// every client-side route, assets under /static/).
//
//go:embed dashboard
var dashboardFiles embed.FS

// dashboard serves GET / and /static/… and answers every other GET outside
// /api/ with index.html, for the app's client-side routes.
func dashboard() http.Handler {
	static, err := fs.Sub(dashboardFiles, "dashboard")
	if err != nil {
		panic(err) // embedded above
	}
	index, err := fs.ReadFile(static, "index.html")
	if err != nil {
		panic(err)
	}
	assets := http.StripPrefix("/static/", http.FileServerFS(static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/"):
			notFound(w)
		case strings.HasPrefix(r.URL.Path, "/static/"):
			assets.ServeHTTP(w, r)
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(index)
		}
	})
}
