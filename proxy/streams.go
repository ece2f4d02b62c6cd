package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// How access ends on connections that are already open:
//
// A WebSocket (from its 101) and a response that streams (text/event-stream
// at once, any other response still streaming after Config.StreamAfter) are
// registered in the handler's streams, grouped by the credential that
// opened them. Every Config.RecheckEvery, and at once when Recheck is
// called (the control plane calls it after every change it puts in force:
// its own, another replica's, a policy reload), every registered
// connection is decided again exactly as its request was: Authenticate the
// same credential, Authorize the principal, method and canonical path. A
// connection whose request would now be refused (401 or 403) is closed; a
// credential whose expiry (Expirer) has passed closes its connections too.
// When no decision can be made (an error) the connection stays open and is
// decided again on the next round: an error is not a deny.
//
// Ordinary requests never reach the registry: only upgrades and responses
// that turn out to stream take its lock.

// Expirer is implemented by an Authenticator that knows when a credential
// ends (a token's exp), so that its connections close at that instant and
// not at the first refusal after it (which may allow clock leeway).
type Expirer interface {
	// Expires returns when c ends, or the zero time when it is not known
	// or never ends.
	Expires(c Credential) time.Time
}

// Kinds of long-lived connections, the kind label of gatehouse_streams_open.
const (
	kindWebSocket = "websocket"
	kindStream    = "stream"
)

// Causes of closing a long-lived connection, the cause label of
// gatehouse_streams_closed_total.
const (
	causeRevoked  = "revoked"  // its request would now be refused
	causeExpired  = "expired"  // its credential expired
	causeCapacity = "capacity" // more long-lived connections than --max-streams
	causeShutdown = "shutdown" // Gatehouse is stopping
)

// stream is one registered long-lived connection and the request that
// opened it.
type stream struct {
	kind   string
	cred   Credential // zero for an anonymous request
	method string
	path   string // canonical
	user   string // for audit lines; "" when anonymous
	client string // ClientAddr of the request
	rid    string
	start  time.Time
	// end closes the connection for cause; it must not block long.
	end func(cause string)
}

// streams is the registry of long-lived connections.
type streams struct {
	authn   Authenticator
	authz   Authorizer
	expirer Expirer // nil when the Authenticator is not one
	shadow  bool    // a 403 keeps the connection (Config.Shadow)
	max     int
	every   time.Duration
	after   time.Duration // Config.StreamAfter
	metrics *Metrics
	log     *slog.Logger
	nudge   chan struct{} // a pending Recheck

	mu     sync.Mutex                        // guards byCred, n and shut
	byCred map[Credential]map[*stream]string // registered connections by credential, each with its kind
	n      int                               // registered plus reserved
	shut   bool                              // closeAll ran: no new connection is followed

	ending    sync.WaitGroup // connections being ended (close)
	undecided bool           // the last round left connections undecided (run's goroutine only)
}

func newStreams(cfg *Config) *streams {
	s := &streams{
		authn: cfg.Authenticator, authz: cfg.Authorizer, shadow: cfg.Shadow,
		max: cfg.MaxStreams, every: cfg.RecheckEvery, after: cfg.StreamAfter,
		metrics: cfg.Metrics, log: cfg.Log,
		nudge:  make(chan struct{}, 1),
		byCred: map[Credential]map[*stream]string{},
	}
	if cfg.RecheckAuthenticator != nil {
		s.authn = cfg.RecheckAuthenticator
	}
	if cfg.RecheckAuthorizer != nil {
		s.authz = cfg.RecheckAuthorizer
	}
	s.expirer, _ = s.authn.(Expirer)
	if s.max <= 0 {
		s.max = DefaultMaxStreams
	}
	if s.every <= 0 {
		s.every = 250 * time.Millisecond
	}
	if s.after <= 0 {
		s.after = 10 * time.Second
	}
	return s
}

// DefaultMaxStreams is the default bound on long-lived connections.
const DefaultMaxStreams = 10000

// reserve takes a place for a connection about to be registered; false
// when the registry is full.
func (s *streams) reserve() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n >= s.max || s.shut {
		return false
	}
	s.n++
	return true
}

// unreserve gives back a place reserve took for a connection that was
// never registered.
func (s *streams) unreserve() {
	s.mu.Lock()
	s.n--
	s.mu.Unlock()
}

// add registers st in a place reserve took. It is decided again from the
// next round on: a WebSocket or an event stream was decided a moment ago,
// and a full round per new connection would cost the registry's size.
func (s *streams) add(st *stream) {
	s.mu.Lock()
	g := s.byCred[st.cred]
	if g == nil {
		g = map[*stream]string{}
		s.byCred[st.cred] = g
	}
	g[st] = st.kind
	s.mu.Unlock()
	s.metrics.streamsOpen[st.kind].Inc()
}

// remove unregisters st and gives its place back; false when it was not
// registered (removed before).
func (s *streams) remove(st *stream) bool {
	s.mu.Lock()
	g := s.byCred[st.cred]
	_, ok := g[st]
	if ok {
		delete(g, st)
		if len(g) == 0 {
			delete(s.byCred, st.cred)
		}
		s.n--
	}
	s.mu.Unlock()
	if ok {
		s.metrics.streamsOpen[st.kind].Dec()
	}
	return ok
}

// reserved returns the number of places taken: registered connections
// and those about to be.
func (s *streams) reserved() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// len returns the number of registered connections.
func (s *streams) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.byCred {
		n += len(g)
	}
	return n
}

// Recheck asks for every open connection to be decided again now. It
// never blocks: a round already asked for covers this one too.
func (s *streams) Recheck() {
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}

// run decides the registered connections every s.every and on every
// Recheck until ctx ends, then closes them all.
func (s *streams) run(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.closeAll(causeShutdown)
			return
		case <-t.C:
		case <-s.nudge:
		}
		if s.open() {
			s.recheckAll(time.Now())
		}
	}
}

// open reports whether any connection is registered or about to be.
func (s *streams) open() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n > 0
}

// group is the connections of one credential, as a round sees them.
type group struct {
	cred    Credential
	streams []*stream
}

// snapshot copies the registry so that a round decides without the lock.
func (s *streams) snapshot() []group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]group, 0, len(s.byCred))
	for c, g := range s.byCred {
		gr := group{cred: c, streams: make([]*stream, 0, len(g))}
		for st := range g {
			gr.streams = append(gr.streams, st)
		}
		out = append(out, gr)
	}
	return out
}

// recheckAll decides every registered connection again and closes those
// whose request would now be refused. Connections that could not be
// decided stay open; a line says so when that begins and when it ends
// (not one per connection or round: a store outage would flood the log).
func (s *streams) recheckAll(now time.Time) {
	undecided := 0
	var last error
	for _, g := range s.snapshot() {
		n, err := s.recheckGroup(g, now)
		if n > 0 {
			undecided, last = undecided+n, err
		}
	}
	switch {
	case undecided > 0 && !s.undecided:
		s.log.Warn("open connections could not be decided again; they stay open and are decided again every round",
			"connections", undecided, "error", last)
	case undecided == 0 && s.undecided:
		s.log.Info("open connections are decided again")
	}
	s.undecided = undecided > 0
}

// recheckGroup decides the connections of one credential: the credential
// is authenticated once, each connection's request authorized. It returns
// how many could not be decided, and the last error.
func (s *streams) recheckGroup(g group, now time.Time) (int, error) {
	var p Principal
	if g.cred != (Credential{}) {
		if s.expirer != nil {
			if exp := s.expirer.Expires(g.cred); !exp.IsZero() && !now.Before(exp) {
				s.closeGroup(g.streams, causeExpired)
				return 0, nil
			}
		}
		var err error
		switch p, err = s.authn.Authenticate(g.cred); {
		case err != nil:
			return len(g.streams), err
		case p == nil:
			s.closeGroup(g.streams, causeRevoked)
			return 0, nil
		}
	}
	undecided := 0
	var last error
	for _, st := range g.streams {
		d, err := s.authz.Authorize(p, st.method, st.path)
		switch {
		case err != nil:
			undecided, last = undecided+1, err
		case !d.Allowed && (p == nil || !s.shadow):
			s.close(st, causeRevoked)
		}
	}
	return undecided, last
}

func (s *streams) closeGroup(sts []*stream, cause string) {
	for _, st := range sts {
		s.close(st, cause)
	}
}

// close unregisters st and ends its connection for cause, once. The end
// runs on a goroutine of its own: ending a WebSocket may wait for a write
// in progress (up to closeWriteWait), and a client that does not read must
// not hold up the round, or the other connections' ends.
func (s *streams) close(st *stream, cause string) {
	if !s.remove(st) {
		return
	}
	s.closed(st, cause)
	s.ending.Add(1)
	go func() {
		defer s.ending.Done()
		st.end(cause)
	}()
}

// closed counts and audits a connection Gatehouse ended.
func (s *streams) closed(st *stream, cause string) {
	s.metrics.streamsClosed.WithLabelValues(cause).Inc()
	s.log.LogAttrs(context.Background(), LevelAudit, "stream closed", slog.String("audit", "stream_closed"),
		slog.String("request_id", st.rid), slog.String("user", st.user), slog.String("client", st.client),
		slog.String("method", st.method), slog.String("path", st.path),
		slog.String("kind", st.kind), slog.String("cause", cause),
		slog.String("duration", time.Since(st.start).Round(time.Millisecond).String()))
}

// closeAll closes every registered connection for cause, and every one
// that would be registered later at once (reserve refuses it), and waits
// until they are ended.
func (s *streams) closeAll(cause string) {
	s.mu.Lock()
	s.shut = true
	s.mu.Unlock()
	for _, g := range s.snapshot() {
		s.closeGroup(g.streams, cause)
	}
	s.ending.Wait()
}

// Run decides the open long-lived connections again every
// Config.RecheckEvery and after every Recheck, closing those whose request
// would now be refused, until ctx ends; then it closes them all (a
// WebSocket with 1001, going away).
func (h *Handler) Run(ctx context.Context) { h.streams.run(ctx) }

// Recheck has the open long-lived connections decided again at once. The
// control plane calls it after every change it puts in force; it never
// blocks.
func (h *Handler) Recheck() { h.streams.Recheck() }

// forwardUpgrade forwards a WebSocket upgrade, with a place among the
// streams taken first: without room, it is refused (503) before it
// reaches the upstream.
func (h *Handler) forwardUpgrade(w http.ResponseWriter, r *http.Request, f *flight) {
	if !h.streams.reserve() {
		h.refuseStream(w, r, f)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	uw := &upgradeWriter{ResponseWriter: w, reg: h.streams, cancel: cancel, st: h.newStream(kindWebSocket, f)}
	// Deferred: ReverseProxy panics (http.ErrAbortHandler) when the body of
	// an answer that is no upgrade cannot be copied, and the place must be
	// given back all the same.
	defer func() {
		if uw.ws == nil {
			h.streams.unreserve()
			return
		}
		h.streams.remove(uw.st)
	}()
	h.rp.ServeHTTP(uw, r.WithContext(ctx))
}

// newStream describes a long-lived connection of kind opened by the
// request in flight f.
func (h *Handler) newStream(kind string, f *flight) *stream {
	return &stream{kind: kind, cred: f.cred, method: f.method, path: f.path, user: f.user,
		client: ClientAddr(f.req, h.trusted), rid: f.rid, start: time.Now()}
}

// refuseStream answers 503 to a long-lived connection beyond
// Config.MaxStreams, counts it and writes its audit line.
func (h *Handler) refuseStream(w http.ResponseWriter, r *http.Request, f *flight) {
	kind := kindStream
	if _, upgrade := r.Header["Upgrade"]; upgrade {
		kind = kindWebSocket
	}
	st := h.newStream(kind, f)
	h.streams.closed(st, causeCapacity)
	w.Header()["Retry-After"] = retryAfter
	h.writeError(w, r, f.rid, http.StatusServiceUnavailable, codeUnavailable,
		"too many open streams: try again later")
}

var retryAfter = []string{"1"}
