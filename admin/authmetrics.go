package admin

import "github.com/prometheus/client_golang/prometheus"

// Kinds of authentication, the kind label of
// gatehouse_authentications_total.
const (
	kindToken     = "token"     // a Gatehouse token (from a login or a traded key)
	kindAPIKey    = "api_key"   // an API key as a bearer credential
	kindBasic     = "basic"     // an API key in HTTP Basic credentials
	kindAnonymous = "anonymous" // a data-plane request without credentials
	kindLogin     = "login"     // a login with a password
	kindKeyLogin  = "key_login" // an API key traded for a token
	kindSSO       = "sso"       // a browser sign-in with the identity provider
)

var authKinds = []string{kindToken, kindAPIKey, kindBasic, kindAnonymous, kindLogin, kindKeyLogin, kindSSO}

// authMetrics counts authentications by kind and result. The counters are
// resolved once, so counting on the request path allocates nothing.
type authMetrics struct {
	vec *prometheus.CounterVec
	ok  map[string]prometheus.Counter
	bad map[string]prometheus.Counter
}

func newAuthMetrics() *authMetrics {
	m := &authMetrics{
		vec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_authentications_total",
			Help: "Authentications by kind of credential (token, api_key, basic, anonymous, login, key_login, sso) and result (ok, refused).",
		}, []string{"kind", "result"}),
		ok:  map[string]prometheus.Counter{},
		bad: map[string]prometheus.Counter{},
	}
	for _, k := range authKinds {
		m.ok[k] = m.vec.WithLabelValues(k, "ok")
		m.bad[k] = m.vec.WithLabelValues(k, "refused")
	}
	return m
}

// count counts one authentication of kind.
func (m *authMetrics) count(kind string, ok bool) {
	if ok {
		m.ok[kind].Inc()
	} else {
		m.bad[kind].Inc()
	}
}

// Collector returns the control plane's metrics, for the server's
// registry: gatehouse_authentications_total{kind,result} and, with an
// identity provider, gatehouse_oidc_key_set_fetches_total{result}.
func (s *Service) Collector() prometheus.Collector {
	if s.idp == nil {
		return s.auth.metrics.vec
	}
	return collectors{s.auth.metrics.vec, s.idp.keys.fetches}
}

// collectors is several collectors as one.
type collectors []prometheus.Collector

func (cs collectors) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range cs {
		c.Describe(ch)
	}
}

func (cs collectors) Collect(ch chan<- prometheus.Metric) {
	for _, c := range cs {
		c.Collect(ch)
	}
}
