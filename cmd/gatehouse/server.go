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
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin"
	adminapi "github.com/gatehouse-dev/gatehouse/admin/api"
	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// server is a wired Gatehouse: store, policy engine, control plane, data
// plane and the two listeners.
type server struct {
	cfg  *serveConfig
	log  *slog.Logger
	db   *gorm.DB
	eng  *policy.Engine
	svc  *admin.Service
	data *http.Server
	ops  *http.Server
	// dataPlane is the data plane; its Run decides open connections again.
	dataPlane *proxy.Handler
	// watcher reloads --policy-dir; nil without one.
	watcher *policy.Watcher

	dataLn, opsLn net.Listener
	errs          proxy.ErrorShape // how Gatehouse's own errors look
	publicURL     string           // --public-url, else derived from the bound address
	listening     bool             // a PostgreSQL change listener runs
}

// newServer builds every component and binds both listeners, so that a bad
// configuration fails here, at start, and not on the first request. The
// listeners are bound first: without --public-url, invitation links point
// at the bound address, which is only known then (--listen 127.0.0.1:0).
func newServer(ctx context.Context, c *serveConfig, log *slog.Logger, audit *auditHandler) (*server, error) {
	dataLn, err := net.Listen("tcp", c.listen)
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	opsLn, err := net.Listen("tcp", c.opsListen)
	if err != nil {
		dataLn.Close()
		return nil, fmt.Errorf("--ops-listen: %w", err)
	}
	db, err := store.Open(ctx, c.db, c.pool)
	if err != nil {
		dataLn.Close()
		opsLn.Close()
		return nil, err
	}
	for _, f := range store.Exposed(c.db) {
		log.Warn("the store holds the signing keys and password hashes, and other users of this machine can read it: chmod 600 it", "file", f)
	}
	clashes, err := store.IdentityClashes(ctx, db)
	if err != nil {
		log.Warn("could not check users for shared names and emails", "error", err)
	}
	for _, c := range clashes {
		log.Warn("users share a name or email up to case, which earlier versions allowed: rename one or change its email", "clash", c)
	}
	s, err := assemble(ctx, c, log, audit, db, dataLn.Addr().String())
	if err != nil {
		closeStore(db)
		dataLn.Close()
		opsLn.Close()
		return nil, err
	}
	s.dataLn = proxy.LimitConnsPerClient(dataLn, c.maxConnsPerClient, c.trusted, s.errs)
	s.opsLn = opsLn
	return s, nil
}

// assemble builds the policy engine, the control plane, the data plane and
// the policy watcher on an open store, for a server whose data plane
// listens on addr.
func assemble(ctx context.Context, c *serveConfig, log *slog.Logger, audit *auditHandler, db *gorm.DB, addr string) (*server, error) {
	files, err := loadPolicyFiles(c.policyDir, c.preset)
	if err != nil {
		return nil, err
	}
	eng, err := policy.New(ctx, db, files, log)
	if err != nil {
		return nil, policyLoadError(c.policyDir, err)
	}
	publicURL := defaultPublicURL(addr)
	if c.publicURL != nil {
		publicURL = c.publicURL.String()
	}
	svc, err := admin.New(ctx, db, eng, admin.Config{
		TokenTTL: c.tokenTTL, InviteTTL: c.inviteTTL, DefaultRole: c.defaultRole, PublicURL: publicURL, NameReservation: c.nameReservation,
		OIDC:          c.oidc,
		AdminUsername: c.adminUsername, AdminPassword: c.adminPassword,
	}, log)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(
		// The collector's CPU (go_cpu_classes_gc_total_cpu_seconds_total),
		// besides the defaults: what a GOGC setting costs.
		collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{Matcher: gcCPUMetric}),
	), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	audit.countAudit(reg)
	reg.MustRegister(policy.NewRevisionCollector(eng), enforcedGauge(c.enforce), svc.Collector())
	// Both planes name a client alike (proxy.ClientAddr) in audit lines
	// and rate limits.
	api := adminapi.Options{Canonicalize: proxy.Canonicalize, TrustedProxies: c.trusted}
	var ownPaths []string
	if c.preset != nil {
		api.LoginPath, api.Errors.Detail = c.preset.LoginPath, c.preset.ErrorDetail
		if c.preset.LoginPath != "" {
			ownPaths = []string{c.preset.LoginPath}
		}
	}
	authn, authz := svc.DataPlane()
	recheckAuthn, recheckAuthz := svc.RecheckPlane()
	var sessions *proxy.Sessions
	if svc.SignInEnabled() {
		sessions = &proxy.Sessions{
			Cookie: svc.SessionCookieName(), SignIn: admin.SignInPath, Renew: svc.RenewSession,
			Clear: svc.ClearSessionCookie(), TrustedOrigins: []string{origin(publicURL)},
		}
	}
	dataPlane, err := proxy.New(proxy.Config{
		Upstream:      c.upstream,
		Authenticator: authn,
		Authorizer:    authz,
		// Open connections are decided again without counting as
		// requests in the authentication metrics.
		RecheckAuthenticator: recheckAuthn,
		RecheckAuthorizer:    recheckAuthz,
		ForwardToken:         c.forwardToken,
		// Only a public URL the operator set is vouched for upstream; the
		// derived default (127.0.0.1) would mislead it.
		PublicURL:             c.publicURL,
		PassHostHeader:        c.passHostHeader,
		OwnPaths:              ownPaths,
		Errors:                api.Errors,
		Shadow:                !c.enforce,
		AuditAllowed:          c.auditAllowed,
		Sessions:              sessions,
		TrustedProxies:        c.trusted,
		ResponseHeaderTimeout: c.upstreamTimeout,
		MaxStreams:            c.maxStreams,
		Metrics:               proxy.NewMetrics(reg),
		Log:                   log,
	})
	if err != nil {
		return nil, err
	}
	api.RequestID = dataPlane.RequestID
	// Open WebSockets and streams are decided again as soon as any change
	// is in force here: this replica's, another's, a policy reload.
	eng.OnChange(dataPlane.Recheck)
	router, err := newRouter(svc, dataPlane, api, log)
	if err != nil {
		return nil, err
	}
	s := &server{cfg: c, log: log, db: db, eng: eng, svc: svc, dataPlane: dataPlane, errs: api.Errors, publicURL: publicURL}
	s.data = &http.Server{
		Handler:           router,
		ConnContext:       dataPlane.ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	s.ops = &http.Server{Handler: s.opsHandler(reg), ReadHeaderTimeout: 10 * time.Second}
	if c.policyDir != "" {
		// The same name as loadPolicyFiles gives, so that the watcher's
		// revision and messages match the first load's.
		if s.watcher, err = policy.NewWatcher(eng, filepath.Clean(c.policyDir), reg, log); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// gcCPUMetric selects the runtime metric of the collector's CPU time.
var gcCPUMetric = regexp.MustCompile(`^/cpu/classes/gc/total:cpu-seconds$`)

// origin returns the scheme and host of a URL, as an Origin header names
// them.
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Scheme + "://" + p.Host
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
	if s.cfg.pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	}
	return mux
}

// run serves until ctx ends or a listener fails, then drains in-flight
// requests for up to the shutdown grace. Every long-lived piece runs in
// one errgroup: the two listeners, the replication loop (with its
// PostgreSQL listener), the policy watcher and the GC tuner. The first to
// fail stops the others; the store is closed only once all of them have
// returned, so none of them uses it closed. run returns nil after a
// shutdown, or the failed listener's error.
func (s *server) run(ctx context.Context) error {
	s.log.Info("gatehouse serving", "version", version, "url", s.publicURL, "listen", s.dataLn.Addr().String(),
		"ops_listen", s.opsLn.Addr().String(), "upstream", s.cfg.upstream.String(), "db", store.Redact(s.cfg.db),
		"policy_revision", s.eng.Revision(), "preset", s.cfg.presetName())
	if !s.cfg.enforce {
		s.log.Warn("shadow mode: the policy is not enforced; requests it denies are forwarded and logged as would_deny (--enforce=false)")
	}
	listenDSN := ""
	if store.IsPostgres(s.db) {
		listenDSN, s.listening = s.cfg.db, true
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { s.svc.Run(gctx, listenDSN, s.cfg.reloadInterval); return nil })
	g.Go(func() error { tuneGC(gctx, s.cfg.gc, s.log, 5*time.Second); return nil })
	g.Go(func() error { s.svc.RunSSO(gctx); return nil })
	g.Go(func() error { s.dataPlane.Run(gctx); return nil })
	if s.watcher != nil {
		g.Go(func() error { s.watcher.Run(gctx); return nil })
	}
	g.Go(func() error { return s.serve(s.data, s.dataLn) })
	g.Go(func() error { return s.serve(s.ops, s.opsLn) })
	g.Go(func() error {
		<-gctx.Done()
		if ctx.Err() != nil { // told to stop, not a failed listener
			s.log.Info("shutting down; draining in-flight requests", "grace", s.cfg.shutdownGrace.String())
		}
		s.shutdown()
		return nil
	})
	err := g.Wait()
	closeStore(s.db)
	s.log.Info("stopped")
	return err
}

// serve serves srv on ln until srv is shut down. Any other end is a failed
// listener, which stops the whole server.
func (s *server) serve(srv *http.Server, ln net.Listener) error {
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	s.log.Error("listener failed", "error", err)
	return err
}

// shutdown drains the data plane for up to the shutdown grace, closing the
// connections still open when it runs out, then the ops listener within
// the same deadline: /healthz and /metrics answer while requests drain.
func (s *server) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.shutdownGrace)
	defer cancel()
	if err := s.data.Shutdown(ctx); err != nil {
		s.log.Warn("shutdown grace ran out; closing remaining connections", "error", err)
		s.data.Close()
	}
	_ = s.ops.Shutdown(ctx)
}

// closeStore closes the store's connections.
func closeStore(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
}
