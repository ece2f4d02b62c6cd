// Package sampleapi is a small in-memory pipeline server with ZenML-shaped
// routes and a single-page dashboard, for gatehouse demo and the end-to-end
// tests. It trusts the identity headers Gatehouse sets, as a server behind
// Gatehouse does.
package sampleapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
)

// API is the sample pipeline server.
type API struct {
	mu    sync.Mutex                   // guards items, users and next
	items map[string]map[string]object // kind → id → object
	users map[string]object            // username → user
	next  int
	mux   *http.ServeMux
}

type object map[string]any

// New returns the sample server with a few pipelines, runs and stacks.
func New() *API {
	a := &API{items: map[string]map[string]object{}, users: map[string]object{}, mux: http.NewServeMux()}
	for _, kind := range []string{"pipelines", "runs", "stacks"} {
		a.items[kind] = map[string]object{}
	}
	a.add("pipelines", object{"name": "training"})
	a.add("pipelines", object{"name": "batch-inference"})
	a.add("runs", object{"name": "training-2026-11-01", "status": "completed"})
	a.add("stacks", object{"name": "default"})

	a.mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { reply(w, 200, object{"status": "ok"}) })
	a.mux.HandleFunc("GET /api/v1/info", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, 200, object{"name": "sample pipeline server", "version": "0.40-demo"})
	})
	for _, kind := range []string{"pipelines", "runs", "stacks"} {
		a.mux.HandleFunc("GET /api/v1/"+kind, a.list(kind))
		a.mux.HandleFunc("POST /api/v1/"+kind, a.create(kind))
		a.mux.HandleFunc("GET /api/v1/"+kind+"/{id}", a.get(kind))
		a.mux.HandleFunc("PUT /api/v1/"+kind+"/{id}", a.update(kind))
		a.mux.HandleFunc("DELETE /api/v1/"+kind+"/{id}", a.remove(kind))
	}
	// ZenML creates workspace-scoped resources under their workspace.
	a.mux.HandleFunc("GET /api/v1/workspaces/{workspace}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, object{"id": "1", "name": r.PathValue("workspace")})
	})
	for _, kind := range []string{"pipelines", "runs", "stacks"} {
		a.mux.HandleFunc("POST /api/v1/workspaces/{workspace}/"+kind, a.create(kind))
	}
	a.mux.HandleFunc("GET /api/v1/runs/{id}/logs", a.logs)
	a.mux.HandleFunc("GET /api/v1/users", a.listUsers)
	a.mux.HandleFunc("GET /api/v1/users/{name}", a.getUser)
	a.mux.HandleFunc("PUT /api/v1/users/{name}", a.putUser)
	a.mux.HandleFunc("GET /api/v1/current-user", a.currentUser)
	a.mux.HandleFunc("PUT /api/v1/current-user", a.putCurrentUser)
	a.mux.Handle("GET /", dashboard())
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if name := r.Header.Get("X-Forwarded-User"); name != "" {
		a.mu.Lock()
		u := a.users[name]
		if u == nil {
			u = object{"name": name, "full_name": "", "email": r.Header.Get("X-Forwarded-Email")}
			a.users[name] = u
		}
		u["id"] = r.Header.Get("X-Forwarded-User-Id")
		u["roles"] = r.Header.Get("X-Forwarded-Groups")
		a.mu.Unlock()
	}
	a.mux.ServeHTTP(w, r)
}

func (a *API) add(kind string, o object) object {
	a.next++
	o["id"] = strconv.Itoa(a.next)
	o["created"] = time.Now().UTC().Format(time.RFC3339)
	a.items[kind][o["id"].(string)] = o
	return o
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter) { reply(w, 404, object{"detail": "not found"}) }

func decode(w http.ResponseWriter, r *http.Request) (object, bool) {
	var o object
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&o); err != nil {
		reply(w, 422, object{"detail": "the body must be a JSON object"})
		return nil, false
	}
	return o, true
}

func (a *API) list(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		out := []object{}
		for _, o := range a.items[kind] {
			out = append(out, o)
		}
		sort.Slice(out, func(i, j int) bool { return out[i]["id"].(string) < out[j]["id"].(string) })
		reply(w, 200, object{"items": out})
	}
}

func (a *API) create(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o, ok := decode(w, r)
		if !ok {
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		o["created_by"] = r.Header.Get("X-Forwarded-User")
		reply(w, 201, a.add(kind, o))
	}
}

func (a *API) get(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if o, ok := a.items[kind][r.PathValue("id")]; ok {
			reply(w, 200, o)
			return
		}
		notFound(w)
	}
}

func (a *API) update(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, ok := decode(w, r)
		if !ok {
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		o, found := a.items[kind][r.PathValue("id")]
		if !found {
			notFound(w)
			return
		}
		for k, v := range in {
			if k != "id" {
				o[k] = v
			}
		}
		reply(w, 200, o)
	}
}

func (a *API) remove(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if _, ok := a.items[kind][r.PathValue("id")]; !ok {
			notFound(w)
			return
		}
		delete(a.items[kind], r.PathValue("id"))
		w.WriteHeader(http.StatusNoContent)
	}
}

// logs streams a run's log as server-sent events.
func (a *API) logs(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fl, _ := w.(http.Flusher)
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(w, "data: run %s step %d of 5 done\n\n", r.PathValue("id"), i)
		if fl != nil {
			fl.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func (a *API) listUsers(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []object{}
	for _, u := range a.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["name"].(string) < out[j]["name"].(string) })
	reply(w, 200, object{"items": out})
}

// user finds a user by name or id. Callers hold mu.
func (a *API) user(ref string) object {
	if u, ok := a.users[ref]; ok {
		return u
	}
	for _, u := range a.users {
		if u["id"] == ref {
			return u
		}
	}
	return nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if u := a.user(r.PathValue("name")); u != nil {
		reply(w, 200, u)
		return
	}
	notFound(w)
}

func (a *API) putUser(w http.ResponseWriter, r *http.Request) {
	in, ok := decode(w, r)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.user(r.PathValue("name"))
	if u == nil {
		notFound(w)
		return
	}
	for _, k := range []string{"full_name", "email"} {
		if v, ok := in[k]; ok {
			u[k] = v
		}
	}
	reply(w, 200, u)
}

func (a *API) currentUser(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if u := a.users[r.Header.Get("X-Forwarded-User")]; u != nil {
		reply(w, 200, u)
		return
	}
	reply(w, 401, object{"detail": "no user"})
}

func (a *API) putCurrentUser(w http.ResponseWriter, r *http.Request) {
	r.SetPathValue("name", r.Header.Get("X-Forwarded-User"))
	a.putUser(w, r)
}
