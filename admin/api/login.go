package api

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"os"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// loginForm is an OAuth2 password grant (RFC 6749, section 4.3): username
// (a name or a user id) and password; grant_type, when sent, must be
// "password"; scope, client_id and client_secret are accepted and ignored.
//
// An API key is traded for a token the same way, with the key as the
// password and the username optional (the account's name when sent).
// ZenML's clients (0.47 and later) trade ZENML_STORE_API_KEY so: a form
// of grant_type "zenml-api-key" and password, without a username.
type loginForm struct {
	Username     string `json:"username"`
	Password     string `json:"password"`
	GrantType    string `json:"grant_type"`
	Scope        string `json:"scope"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// grantAPIKey is the grant type of ZenML's clients trading an API key.
const grantAPIKey = "zenml-api-key"

// login is POST /gatehouse/v1/login: a form or a JSON object.
func (a *API) login(c *gin.Context) { a.issueToken(c, true) }

// presetLogin is a preset's login (POST /api/v1/login for ZenML's
// clients): a form only, as the server it stands in for takes it.
func (a *API) presetLogin(c *gin.Context) { a.issueToken(c, false) }

// issueToken checks the credentials of a login request and answers with
// an access token.
func (a *API) issueToken(c *gin.Context, jsonAllowed bool) {
	in, err := readLogin(c, jsonAllowed)
	if err != nil {
		a.fail(c, err)
		return
	}
	login := a.svc.Login
	if in.GrantType == grantAPIKey {
		login = a.svc.LoginWithKey
	}
	tok, err := login(c.Request.Context(), in.Username, in.Password, a.clientAddr(c))
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, tok)
}

// readLogin reads and checks the credentials of a login request: an
// application/x-www-form-urlencoded or multipart form, or (when
// jsonAllowed) a JSON object, of at most maxBody bytes.
func readLogin(c *gin.Context, jsonAllowed bool) (loginForm, error) {
	var in loginForm
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")) // lower case; "" when absent or malformed
	switch {
	case mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data":
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
		err := c.Request.ParseForm()
		if err == nil && mt == "multipart/form-data" {
			err = c.Request.ParseMultipartForm(maxBody)
		}
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return in, err
		case errors.Is(err, os.ErrDeadlineExceeded):
			return in, admin.ErrTimeout
		case err != nil:
			return in, fmt.Errorf("%w: malformed form: %v", admin.ErrInvalid, err)
		}
		f := c.Request.PostForm
		in.Username, in.Password, in.GrantType = f.Get("username"), f.Get("password"), f.Get("grant_type")
	case jsonAllowed:
		if err := bind(c, &in); err != nil {
			return in, err
		}
	default:
		return in, fmt.Errorf("%w: send the credentials as an application/x-www-form-urlencoded form (username, password), as for OAuth2's password grant", admin.ErrInvalid)
	}
	keyTrade := in.GrantType == grantAPIKey || strings.HasPrefix(in.Password, admin.KeyPrefix)
	switch {
	case in.GrantType != "" && in.GrantType != "password" && in.GrantType != grantAPIKey:
		return in, fieldErr("grant_type", "only the password grant is supported (and %s, an API key as the password)", grantAPIKey)
	case in.Username == "" && !keyTrade:
		return in, fieldErr("username", "is required")
	case in.Password == "":
		return in, fieldErr("password", "is required")
	}
	return in, nil
}
