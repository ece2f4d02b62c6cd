package admin

import (
	"log/slog"
	"testing"

	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// BenchmarkDecisionIdPToken measures the data plane's decision of a
// request with an identity provider's token once it was seen (the same
// bounded cache as Gatehouse's tokens: no signature check), and, as
// verify, the RS256 verification a token's first request pays.
func BenchmarkDecisionIdPToken(b *testing.B) {
	p := testkit.NewIdP(b)
	s := newOIDCService(b, storetest.SQLite(b).DSN, slog.New(slog.DiscardHandler), p.URL, nil)
	tok := p.Sign(b, p.Claims())
	authn, authz := s.DataPlane()
	decide := func() {
		pr, err := authn.Authenticate(bearer(tok))
		if err != nil || pr == nil {
			b.Fatal(err)
		}
		if d, err := authz.Authorize(pr, "GET", "/api/v1/pipelines/3f2a9c"); err != nil || !d.Allowed {
			b.Fatalf("%+v, %v; want allowed", d, err)
		}
		pr.IdentityHeaders()
	}
	decide() // the first request verifies and signs the user in
	b.Run("data-plane", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decide()
		}
	})
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.idp.verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
