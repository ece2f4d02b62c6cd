package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// signupCSS is the page's only style; the Content-Security-Policy allows
// exactly this text by its hash, and nothing else.
const signupCSS = `body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.4rem}label{display:block;margin:1rem 0 .3rem;font-weight:600}
input[type=password]{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1rem}
.err{color:#a40e26;border:1px solid #a40e26;padding:.6rem;border-radius:4px}.ok{color:#116329}
.hint{font-size:.9rem;color:#57606a}`

var signupCSP = func() string {
	h := sha256.Sum256([]byte(signupCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(h[:]) +
		"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

var signupTmpl = template.Must(template.New("signup").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .Done}}Account ready{{else}}Sign up{{end}} · Gatehouse</title><style>{{.CSS}}</style></head>
<body><main>
{{if .Done}}
<h1>Your account is ready</h1>
<p class="ok" role="status">You can now log in as <strong>{{.Username}}</strong>.</p>
<p class="hint">From a terminal: <code>gatehouse login --server {{.Server}} --username {{.Username}}</code></p>
{{else if .Fatal}}
<h1>Sign up</h1>
<p class="err" role="alert">{{.Error}}</p>
{{else}}
<h1>Sign up as {{.Username}}</h1>
<p class="hint">Choose a password of at least {{.MinLen}} characters.</p>
{{if .Error}}<p class="err" role="alert" id="form-error">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="token" value="{{.Token}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<input type="text" name="username" value="{{.Username}}" autocomplete="username" hidden readonly>
<label for="password">New password</label>
<input type="password" id="password" name="password" autocomplete="new-password" minlength="{{.MinLen}}" required{{if .Error}} aria-describedby="form-error"{{end}}>
<label for="confirm">Repeat the password</label>
<input type="password" id="confirm" name="confirm" autocomplete="new-password" minlength="{{.MinLen}}" required>
<button type="submit">Create my account</button>
</form>
{{end}}
</main></body></html>
`))

type signupView struct {
	CSS            template.CSS
	Username       string
	Token, CSRF    string
	Action, Server string
	Error          string
	MinLen         int
	Done, Fatal    bool
}

const csrfCookie = "gatehouse_csrf"

func (a *API) render(c *gin.Context, status int, v signupView) {
	v.CSS = template.CSS(signupCSS)
	v.MinLen = admin.MinPasswordLen
	v.Action = admin.SignupPath
	// The page's URL holds the token: strict-origin keeps it out of every
	// Referer header. Not no-referrer: under it browsers send "Origin: null"
	// with the form post, which sameOrigin rightly refuses, so no browser
	// could sign up.
	pageHeaders(c.Writer.Header(), "strict-origin")
	c.Status(status)
	if err := signupTmpl.Execute(c.Writer, v); err != nil {
		a.log.Error("signup page: rendering failed", "error", err)
	}
}

// pageHeaders sets the headers of Gatehouse's own HTML pages: a
// Content-Security-Policy that allows the one style sheet and nothing
// else, no framing, no sniffing, no caching, and the referrer policy.
func pageHeaders(h http.Header, referrer string) {
	h.Set("Content-Security-Policy", signupCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", referrer)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
}

// signupPage shows the form for an invitation token.
func (a *API) signupPage(c *gin.Context) {
	tok := c.Query("token")
	if tok == "" {
		a.render(c, http.StatusBadRequest, signupView{Fatal: true, Error: "This link has no invitation token. Ask your administrator for a new invitation."})
		return
	}
	name, err := a.svc.InvitedUser(c.Request.Context(), tok, a.clientAddr(c))
	if err != nil {
		a.renderError(c, err, true)
		return
	}
	csrf := newCSRF()
	http.SetCookie(c.Writer, &http.Cookie{
		Name: csrfCookie, Value: csrf, Path: admin.SignupPath, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: isHTTPS(c.Request), MaxAge: int(time.Hour / time.Second),
	})
	a.render(c, http.StatusOK, signupView{Username: name, Token: tok, CSRF: csrf})
}

// signupForm takes the form post. Cross-site posts are refused three ways:
// the browser's Sec-Fetch-Site and Origin headers, and a double-submit
// token bound to a SameSite=Strict cookie.
func (a *API) signupForm(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	if err := c.Request.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			a.render(c, http.StatusRequestEntityTooLarge, signupView{Fatal: true, Error: "The form is too large."})
			return
		}
		a.render(c, http.StatusBadRequest, signupView{Fatal: true, Error: "The form could not be read."})
		return
	}
	if !sameOrigin(c.Request) || !csrfMatches(c) {
		a.render(c, http.StatusForbidden, signupView{Fatal: true, Error: "This form was sent from another site or its session expired. Open the invitation link again."})
		return
	}
	tok, pw, confirm := c.PostForm("token"), c.PostForm("password"), c.PostForm("confirm")
	name, err := a.svc.InvitedUser(c.Request.Context(), tok, a.clientAddr(c))
	if err != nil {
		a.renderError(c, err, true)
		return
	}
	view := signupView{Username: name, Token: tok, CSRF: c.PostForm("csrf")}
	if pw != confirm {
		view.Error = "The two passwords differ."
		a.render(c, http.StatusBadRequest, view)
		return
	}
	u, err := a.svc.Signup(c.Request.Context(), tok, pw, a.clientAddr(c))
	if err != nil {
		var fe *admin.FieldError
		if errors.As(err, &fe) && fe.Field == "password" {
			view.Error = "The password " + fe.Msg + "."
			a.render(c, http.StatusBadRequest, view)
			return
		}
		a.renderError(c, err, true)
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: csrfCookie, Path: admin.SignupPath, MaxAge: -1})
	a.render(c, http.StatusOK, signupView{Done: true, Username: u.Username, Server: serverURL(c.Request, a.svc.PublicURL())})
}

func (a *API) renderError(c *gin.Context, err error, fatal bool) {
	status, _, msg := errorStatus(err)
	if status == http.StatusTooManyRequests {
		setRetryAfter(c, err)
	}
	if status == http.StatusBadRequest {
		msg = "This invitation link is not valid. Ask your administrator for a new invitation."
	}
	a.render(c, status, signupView{Fatal: fatal, Error: msg})
}

func newCSRF() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func csrfMatches(c *gin.Context) bool {
	ck, err := c.Cookie(csrfCookie)
	form := c.PostForm("csrf")
	return err == nil && ck != "" && subtle.ConstantTimeCompare([]byte(ck), []byte(form)) == 1
}

// sameOrigin refuses requests a browser marks as cross-site.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return false
		}
	}
	return true
}

func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func serverURL(r *http.Request, public string) string {
	if public != "" {
		return public
	}
	scheme := "http"
	if isHTTPS(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
