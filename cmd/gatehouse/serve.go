package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/admin"
	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/preset"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// serveOptions are the flags of serve (and the settings of demo).
type serveOptions struct {
	serveSettings
	upstream       string
	preset         string
	publicURL      string
	trustedProxies []string
	logLevel       string
	dbMaxOpen      int
	dbMaxIdle      int
	dbConnLifetime time.Duration
	oidc           oidcOptions
}

// serveSettings are the flags that serve uses as they are given, in both
// serveOptions and serveConfig.
type serveSettings struct {
	listen, opsListen string // HOST:PORT or :PORT, bound by newServer
	db                string // the store's DSN
	// policyDir is --policy-dir as given, "" for the embedded defaults
	// (or the preset's); messages name it as the operator wrote it.
	policyDir         string
	tokenTTL          time.Duration
	inviteTTL         time.Duration
	nameReservation   time.Duration
	forwardToken      bool
	passHostHeader    bool
	enforce           bool
	auditAllowed      bool
	defaultRole       string
	upstreamTimeout   time.Duration
	shutdownGrace     time.Duration
	maxConnsPerClient int
	maxStreams        int
	reloadInterval    time.Duration
	pprof             bool
}

func defaultServeOptions() *serveOptions {
	return &serveOptions{
		serveSettings: serveSettings{
			listen: ":8080", opsListen: ":9090", db: "sqlite:gatehouse.db",
			tokenTTL: time.Hour, inviteTTL: 72 * time.Hour, nameReservation: 30 * 24 * time.Hour, defaultRole: policy.RoleGuest, enforce: true,
			upstreamTimeout: 60 * time.Second, shutdownGrace: 20 * time.Second, reloadInterval: time.Minute,
			maxStreams: proxy.DefaultMaxStreams,
		},
		logLevel: "info", dbMaxOpen: 10, dbMaxIdle: 5, dbConnLifetime: 30 * time.Minute,
		oidc: defaultOIDCOptions(),
	}
}

func (o *serveOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.listen, "listen", o.listen, "address of the data plane and the API")
	fs.StringVar(&o.opsListen, "ops-listen", o.opsListen, "address of /healthz, /readyz and /metrics")
	fs.StringVar(&o.upstream, "upstream", o.upstream, "URL of the server to protect, e.g. http://127.0.0.1:8237 (required)")
	fs.StringVar(&o.db, "db", o.db, `store: "sqlite:PATH" or "postgres://USER:PASSWORD@HOST/DB"`)
	fs.StringVar(&o.policyDir, "policy-dir", o.policyDir, "directory with model.conf (optional) and policy.csv; embedded defaults (or the preset's) when empty")
	fs.StringVar(&o.preset, "preset", o.preset, "front a known server as a drop-in for its own clients: "+strings.Join(preset.Names(), ", ")+" (its route policy unless --policy-dir, its clients' login and error shape)")
	fs.StringVar(&o.publicURL, "public-url", o.publicURL, "external base URL of Gatehouse, for invitation links and the URLs Gatehouse prints (default http://127.0.0.1:PORT, or the IP --listen names); when set, its host and scheme are sent upstream as X-Forwarded-Host and X-Forwarded-Proto")
	fs.DurationVar(&o.tokenTTL, "token-ttl", o.tokenTTL, "lifetime of access tokens")
	fs.DurationVar(&o.inviteTTL, "invite-ttl", o.inviteTTL, "lifetime of invitation links")
	fs.DurationVar(&o.nameReservation, "name-reservation", o.nameReservation, "how long a username given up by a rename or deletion stays reserved for its old user (0: not at all); an admin can reuse it with --reuse-name")
	fs.BoolVar(&o.forwardToken, "forward-token", o.forwardToken, "pass the caller's Authorization header to the upstream")
	fs.BoolVar(&o.passHostHeader, "pass-host-header", o.passHostHeader, "send the client's Host header to the upstream (and as X-Forwarded-Host without --public-url) instead of the upstream's own host; only behind an ingress that admits known hosts alone")
	fs.BoolVar(&o.enforce, "enforce", o.enforce, "refuse what the policy denies; false is shadow mode for rolling out a policy: denied requests are forwarded, logged as would_deny and counted (authentication is still required)")
	fs.BoolVar(&o.auditAllowed, "audit-allowed", o.auditAllowed, `also write an audit line ("audit":"allow") for every request the policy allows, so that the log records every decision (policy diff --audit-log replays them)`)
	fs.StringVar(&o.defaultRole, "default-role", o.defaultRole, "role of users created without --role")
	fs.DurationVar(&o.upstreamTimeout, "upstream-timeout", o.upstreamTimeout, "longest wait for the upstream's response headers")
	fs.DurationVar(&o.shutdownGrace, "shutdown-grace", o.shutdownGrace, "on SIGTERM, how long in-flight requests may take to finish")
	fs.StringSliceVar(&o.trustedProxies, "trusted-proxies", o.trustedProxies, "CIDRs of proxies whose X-Forwarded-For names the client (for rate limits and logs)")
	fs.IntVar(&o.maxConnsPerClient, "max-conns-per-client", o.maxConnsPerClient, "connections one client address (an IPv6 /64) may hold open on --listen; more are answered 429 and closed. 0 (the default): no limit. Set it where clients connect directly: behind an ingress or NAT many clients share one address (--trusted-proxies are exempt)")
	fs.IntVar(&o.maxStreams, "max-streams", o.maxStreams, "long-lived connections (WebSockets, server-sent events, responses still streaming after 10s) open at once; each is decided again on every change and closed when its access ends. One more is refused (503) or ended")
	fs.StringVar(&o.logLevel, "log-level", o.logLevel, "debug, info, warn or error")
	fs.IntVar(&o.dbMaxOpen, "db-max-open-conns", o.dbMaxOpen, "PostgreSQL: connections at most")
	fs.IntVar(&o.dbMaxIdle, "db-max-idle-conns", o.dbMaxIdle, "PostgreSQL: idle connections kept")
	fs.DurationVar(&o.dbConnLifetime, "db-conn-max-lifetime", o.dbConnLifetime, "PostgreSQL: lifetime of a connection")
	fs.DurationVar(&o.reloadInterval, "reload-interval", o.reloadInterval, "how often users and policy are fully reloaded from the store, to heal missed changes")
	fs.BoolVar(&o.pprof, "pprof", o.pprof, "serve Go's profiler at /debug/pprof/ on --ops-listen (never on --listen)")
	o.oidc.addFlags(fs)
}

// serveConfig is serveOptions completed: every flag parsed once, and the
// environment that serve reads besides the flags' twins read once. The
// server is built from it alone, so nothing after complete parses a string
// or reads the environment.
type serveConfig struct {
	serveSettings
	upstream *url.URL       // the server to protect
	preset   *preset.Preset // nil without --preset
	// publicURL is --public-url, nil when unset: only a URL the operator
	// set is vouched for upstream (X-Forwarded-Host and -Proto).
	publicURL *url.URL
	trusted   []netip.Prefix // --trusted-proxies
	logLevel  slog.Level
	pool      store.Pool // the PostgreSQL connection pool
	// adminUsername and adminPassword are GATEHOUSE_ADMIN_USERNAME and
	// GATEHOUSE_ADMIN_PASSWORD: the first admin of an empty store.
	adminUsername string
	adminPassword admin.Secret
	// gc holds $GOGC and $GOMEMLIMIT: the operator's collector settings,
	// which the GC tuner and the cgroup's memory limit leave alone.
	gc gcSettings
	// oidc is the OpenID Connect provider whose bearer tokens are
	// accepted, nil without --oidc-issuer.
	oidc *admin.OIDCConfig
}

// complete checks every flag and reports every problem at once, as one
// usage error; without a problem it returns the flags parsed, with the
// first admin, GOGC and GOMEMLIMIT read from getenv.
func (o *serveOptions) complete(getenv env) (*serveConfig, error) {
	c := &serveConfig{
		serveSettings: o.serveSettings,
		pool:          store.Pool{MaxOpen: o.dbMaxOpen, MaxIdle: o.dbMaxIdle, MaxLifetime: o.dbConnLifetime},
		adminUsername: getenv("GATEHOUSE_ADMIN_USERNAME"),
		adminPassword: admin.Secret(getenv("GATEHOUSE_ADMIN_PASSWORD")),
		gc:            gcSettings{gogc: getenv("GOGC"), gomemlimit: getenv("GOMEMLIMIT")},
	}
	var errs []error
	var err error
	if c.upstream, err = parseUpstream(o.upstream); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, o.checkListen()...)
	if c.publicURL, err = parsePublicURL(o.publicURL); err != nil {
		errs = append(errs, err)
	}
	if o.preset != "" {
		if p, err := preset.Lookup(o.preset); err != nil {
			errs = append(errs, fmt.Errorf("--preset: %w", err))
		} else {
			c.preset = &p
		}
	}
	if o.policyDir != "" {
		if st, err := os.Stat(o.policyDir); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("--policy-dir %q is not a directory", o.policyDir))
		}
	}
	errs = append(errs, o.checkLimits()...)
	for _, s := range o.trustedProxies {
		if p, err := parsePrefix(s); err != nil {
			errs = append(errs, fmt.Errorf("--trusted-proxies %q: want a CIDR or IP", s))
		} else {
			c.trusted = append(c.trusted, p)
		}
	}
	if o.maxConnsPerClient < 0 {
		errs = append(errs, errors.New("--max-conns-per-client must not be negative"))
	}
	if o.maxStreams < 1 {
		errs = append(errs, errors.New("--max-streams must be at least 1"))
	}
	if c.logLevel, err = parseLevel(o.logLevel); err != nil {
		errs = append(errs, err)
	}
	var oidcErrs []error
	c.oidc, oidcErrs = o.oidc.complete(getenv)
	errs = append(errs, oidcErrs...)
	if len(errs) > 0 {
		return nil, usageError{errors.Join(errs...)}
	}
	return c, nil
}

// parseUpstream reads --upstream: an http:// or https:// URL with a host,
// and without a query or fragment.
func parseUpstream(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("--upstream is required (env GATEHOUSE_UPSTREAM): the URL of the server to protect")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("--upstream %q: want an http:// or https:// URL with a host", s)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("--upstream %q: must not have a query or fragment", s)
	}
	return u, nil
}

// parsePublicURL reads --public-url: nil when unset, else an http:// or
// https:// URL with a host.
func parsePublicURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--public-url %q: want an http:// or https:// URL", s)
	}
	return u, nil
}

// checkListen checks --listen and --ops-listen.
func (o *serveOptions) checkListen() []error {
	var errs []error
	for _, a := range []struct{ flag, addr string }{{"--listen", o.listen}, {"--ops-listen", o.opsListen}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: want HOST:PORT or :PORT", a.flag, a.addr))
		}
	}
	// Port 0 asks the kernel for a free port, so two of them never clash.
	if _, port, _ := net.SplitHostPort(o.listen); o.listen == o.opsListen && port != "0" {
		errs = append(errs, errors.New("--listen and --ops-listen must differ"))
	}
	return errs
}

// checkLimits checks the durations and pool sizes.
func (o *serveOptions) checkLimits() []error {
	var errs []error
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--token-ttl", o.tokenTTL}, {"--invite-ttl", o.inviteTTL}, {"--upstream-timeout", o.upstreamTimeout},
		{"--db-conn-max-lifetime", o.dbConnLifetime}, {"--reload-interval", o.reloadInterval}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", d.flag))
		}
	}
	if o.dbMaxOpen < 1 || o.dbMaxIdle < 0 {
		errs = append(errs, errors.New("--db-max-open-conns must be at least 1 and --db-max-idle-conns not negative"))
	}
	if o.shutdownGrace < 0 {
		errs = append(errs, errors.New("--shutdown-grace must not be negative"))
	}
	if o.nameReservation < 0 {
		errs = append(errs, errors.New("--name-reservation must not be negative"))
	}
	return errs
}

// presetName returns --preset, or "" without one.
func (c *serveConfig) presetName() string {
	if c.preset == nil {
		return ""
	}
	return c.preset.Name
}

// parsePrefix reads a CIDR, or an IP as the prefix of that one address.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// defaultPublicURL is the base URL of a server bound to addr, without
// --public-url: http:// and the bound IP, or 127.0.0.1 when it listens on
// every interface. It is the one form of the server's URL that invitation
// links, the sign-up page, the start-up log and the demo print, so a login
// stored by pasting any of them is the login the others name.
func defaultPublicURL(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func (a *app) serveCmd() *cobra.Command {
	o := defaultServeOptions()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the sidecar in front of an upstream server",
		Long: `Run the sidecar: every request on --listen is authenticated (bearer JWT),
decided by the Casbin policy and, when allowed, forwarded to --upstream.
Gatehouse's own API lives under /gatehouse/. With --policy-dir the directory
is watched and valid changes apply within seconds; a broken change is logged
and the last good policy stays. Every flag has an environment
twin GATEHOUSE_<FLAG>; on an empty store the first admin comes from
GATEHOUSE_ADMIN_USERNAME (default admin) and GATEHOUSE_ADMIN_PASSWORD, or,
without a password, from a one-time sign-up URL printed in the log.`,
		Example: `  GATEHOUSE_ADMIN_PASSWORD='choose a long passphrase' gatehouse serve --upstream http://127.0.0.1:8237 --preset zenml
  gatehouse serve --upstream http://127.0.0.1:5000 --db postgres://gatehouse@db/gatehouse --policy-dir /etc/gatehouse/policy
  gatehouse serve --upstream http://127.0.0.1:8237 --policy-dir policy/ --enforce=false   # shadow mode`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags(), a.env); err != nil {
				return err
			}
			c, err := o.complete(a.env)
			if err != nil {
				return err
			}
			log, audit := newLogger(a.stderr, c.logLevel)
			// Before the store loads, so that a large one is loaded
			// within the container's limit.
			setMemoryLimit(c.gc, log)
			s, err := newServer(cmd.Context(), c, log, audit)
			if err != nil {
				return err
			}
			return s.run(cmd.Context())
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}
