package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin"
	adminapi "github.com/gatehouse-dev/gatehouse/admin/api"
	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/preset"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// server is a wired Gatehouse: store, policy engine, control plane, data
// plane and the two listeners.
type server struct {
	opts *serveOptions
	log  *slog.Logger
	db   *gorm.DB
	eng  *policy.Engine
	svc  *admin.Service
	data *http.Server
	ops  *http.Server
	// watcher reloads --policy-dir; nil without one.
	watcher *policy.Watcher

	dataLn, opsLn net.Listener
	errs          proxy.ErrorShape // how Gatehouse's own errors look
	publicURL     string           // --public-url, else derived from the bound address
	listening     bool             // a PostgreSQL change listener runs
	getenv        env
}

// newServer builds every component and binds both listeners, so that a bad
// configuration fails here, at start, and not on the first request. The
// listeners are bound first: without --public-url, invitation links point
// at the bound address, which is only known then (--listen 127.0.0.1:0).
func newServer(ctx context.Context, o *serveOptions, getenv env, log *slog.Logger, audit *auditHandler) (*server, error) {
	dataLn, err := net.Listen("tcp", o.listen)
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	opsLn, err := net.Listen("tcp", o.opsListen)
	if err != nil {
		dataLn.Close()
		return nil, fmt.Errorf("--ops-listen: %w", err)
	}
	db, err := store.Open(ctx, o.db, store.Pool{MaxOpen: o.dbMaxOpen, MaxIdle: o.dbMaxIdle, MaxLifetime: o.dbConnLifetime})
	if err != nil {
		dataLn.Close()
		opsLn.Close()
		return nil, err
	}
	for _, f := range store.Exposed(o.db) {
		log.Warn("the store holds the signing keys and password hashes, and other users of this machine can read it: chmod 600 it", "file", f)
	}
	clashes, err := store.IdentityClashes(ctx, db)
	if err != nil {
		log.Warn("could not check users for shared names and emails", "error", err)
	}
	for _, c := range clashes {
		log.Warn("users share a name or email up to case, which earlier versions allowed: rename one or change its email", "clash", c)
	}
	s, err := assemble(ctx, o, getenv, log, audit, db, dataLn.Addr().String())
	if err != nil {
		closeStore(db)
		dataLn.Close()
		opsLn.Close()
		return nil, err
	}
	s.dataLn = proxy.LimitConnsPerClient(dataLn, o.maxConnsPerClient, o.trustedPrefixes(), s.errs)
	s.opsLn = opsLn
	return s, nil
}

// assemble builds the policy engine, the control plane, the data plane and
// the policy watcher on an open store, for a server whose data plane
// listens on addr.
func assemble(ctx context.Context, o *serveOptions, getenv env, log *slog.Logger, audit *auditHandler, db *gorm.DB, addr string) (*server, error) {
	var pre *preset.Preset
	if o.preset != "" {
		p, err := preset.Lookup(o.preset) // validated
		if err != nil {
			return nil, err
		}
		pre = &p
	}
	files, err := loadPolicyFiles(o.policyDir, pre)
	if err != nil {
		return nil, err
	}
	eng, err := policy.New(ctx, db, files, log)
	if err != nil {
		return nil, policyLoadError(o.policyDir, err)
	}
	publicURL := o.publicURL
	if publicURL == "" {
		publicURL = defaultPublicURL(addr)
	}
	svc, err := admin.New(ctx, db, eng, admin.Config{
		TokenTTL: o.tokenTTL, InviteTTL: o.inviteTTL, DefaultRole: o.defaultRole, PublicURL: publicURL, NameReservation: o.nameReservation,
		AdminUsername: getenv("GATEHOUSE_ADMIN_USERNAME"), AdminPassword: admin.Secret(getenv("GATEHOUSE_ADMIN_PASSWORD")),
	}, log)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	audit.countAudit(reg)
	reg.MustRegister(policy.NewRevisionCollector(eng), enforcedGauge(o.enforce))
	upstream, _ := url.Parse(o.upstream) // validated
	// Only a public URL the operator set is vouched for upstream; the
	// derived default (127.0.0.1) would mislead it.
	var public *url.URL
	if o.publicURL != "" {
		public, _ = url.Parse(o.publicURL) // validated
	}
	// Both planes name a client alike (proxy.ClientAddr) in audit lines
	// and rate limits.
	trusted := o.trustedPrefixes()
	api := adminapi.Options{Canonicalize: proxy.Canonicalize, TrustedProxies: trusted}
	var ownPaths []string
	if pre != nil {
		api.LoginPath, api.Errors.Detail = pre.LoginPath, pre.ErrorDetail
		if pre.LoginPath != "" {
			ownPaths = []string{pre.LoginPath}
		}
	}
	dataPlane, err := proxy.New(proxy.Config{
		Upstream:              upstream,
		Authenticator:         authenticator{svc.Authenticator()},
		Authorizer:            authorizer{eng},
		ForwardToken:          o.forwardToken,
		PublicURL:             public,
		PassHostHeader:        o.passHostHeader,
		OwnPaths:              ownPaths,
		Errors:                api.Errors,
		Shadow:                !o.enforce,
		TrustedProxies:        trusted,
		ResponseHeaderTimeout: o.upstreamTimeout,
		Metrics:               proxy.NewMetrics(reg),
		Log:                   log,
	})
	if err != nil {
		return nil, err
	}
	api.RequestID = dataPlane.RequestID
	router, err := newRouter(svc, dataPlane, api, log)
	if err != nil {
		return nil, err
	}
	s := &server{opts: o, log: log, db: db, eng: eng, svc: svc, getenv: getenv, errs: api.Errors, publicURL: publicURL}
	s.data = &http.Server{
		Handler:           router,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	s.ops = &http.Server{Handler: s.opsHandler(reg), ReadHeaderTimeout: 10 * time.Second}
	if o.policyDir != "" {
		// The same name as loadPolicyFiles gives, so that the watcher's
		// revision and messages match the first load's.
		if s.watcher, err = policy.NewWatcher(eng, filepath.Clean(o.policyDir), reg, log); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// enforcedGauge exposes whether the policy is enforced (1) or in shadow
// mode (0), so that a forgotten --enforce=false can be alerted on.
func enforcedGauge(enforce bool) prometheus.Collector {
	v := 0.0
	if enforce {
		v = 1
	}
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatehouse_policy_enforced",
		Help: "1 when the policy is enforced, 0 in shadow mode (--enforce=false: denials are logged as would_deny, not refused).",
	}, func() float64 { return v })
}

// newRouter builds the data plane's handler: Gatehouse's own routes
// (admin/api), and the data plane for every other request.
func newRouter(svc *admin.Service, dataPlane *proxy.Handler, api adminapi.Options, log *slog.Logger) (http.Handler, error) {
	api.Fallback = dataPlane
	h, err := adminapi.New(svc, api, log)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	return h, nil
}

func (s *server) opsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if s.opts.pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	}
	return mux
}

// run serves until ctx ends, then drains in-flight requests for up to the
// shutdown grace and returns nil.
func (s *server) run(ctx context.Context) error {
	s.log.Info("gatehouse serving", "version", version, "url", s.publicURL, "listen", s.dataLn.Addr().String(),
		"ops_listen", s.opsLn.Addr().String(), "upstream", s.opts.upstream, "db", store.Redact(s.opts.db),
		"policy_revision", s.eng.Revision(), "preset", s.opts.preset)
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	listenDSN := ""
	if store.IsPostgres(s.db) {
		listenDSN, s.listening = s.opts.db, true
	}
	go s.svc.Run(bg, listenDSN, s.opts.reloadInterval)
	go tuneGC(bg, s.getenv, s.log, 30*time.Second)
	if !s.opts.enforce {
		s.log.Warn("shadow mode: the policy is not enforced; requests it denies are forwarded and logged as would_deny (--enforce=false)")
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watchDone := make(chan struct{})
	if s.watcher != nil {
		go func() {
			defer close(watchDone)
			s.watcher.Run(watchCtx)
		}()
	} else {
		close(watchDone)
	}
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	for _, p := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{s.data, s.dataLn}, {s.ops, s.opsLn}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.srv.Serve(p.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	var runErr error
	select {
	case <-ctx.Done():
		s.log.Info("shutting down; draining in-flight requests", "grace", s.opts.shutdownGrace.String())
	case runErr = <-errc:
		s.log.Error("listener failed", "error", runErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.shutdownGrace)
	defer cancel()
	if err := s.data.Shutdown(sctx); err != nil {
		s.log.Warn("shutdown grace ran out; closing remaining connections", "error", err)
		s.data.Close()
	}
	_ = s.ops.Shutdown(sctx)
	wg.Wait()
	stopWatch()
	<-watchDone
	closeStore(s.db)
	s.log.Info("stopped")
	return runErr
}

// closeStore closes the store's connections.
func closeStore(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
}

// authenticator adapts the control plane's authenticator to the data plane.
type authenticator struct{ a *admin.Authenticator }

var _ proxy.Authenticator = authenticator{}

func (x authenticator) Authenticate(token string) (proxy.Principal, error) {
	id, err := x.a.Authenticate(token)
	switch {
	case errors.Is(err, admin.ErrUnauthenticated):
		return nil, nil // a bad token: the data plane answers 401
	case err != nil:
		return nil, err // could not decide: the data plane answers 503
	}
	return id, nil
}

// authorizer adapts the policy engine to the data plane.
type authorizer struct{ e *policy.Engine }

var _ proxy.Authorizer = authorizer{}

func (x authorizer) Authorize(p proxy.Principal, method, path string) (proxy.Decision, error) {
	var d policy.Decision
	var err error
	switch id := p.(type) {
	case nil:
		d, err = x.e.Decide("", "", "", method, path)
	case *admin.Identity:
		d, err = id.Decide(method, path) // through the identity's grant cache
	default:
		d, err = x.e.Decide(p.Subject(), p.UserID(), p.Username(), method, path)
	}
	return proxy.Decision{Allowed: d.Allowed, Permission: d.Permission}, err
}
