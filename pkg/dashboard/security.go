package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// cookiePrefix begins the name of the cookie that carries the token
// after the first request; the port ends it. A browser keeps one cookie
// of a name per host, whatever the port, so two dashboards open at once
// (two clusters, two namespaces) need two names, or the second one's
// login would log the first one out.
const cookiePrefix = "sluice-dashboard-"

// csrfField is the form field of an action's CSRF token.
const csrfField = "csrf"

// maxFormBytes bounds the body of an action's form.
const maxFormBytes = 64 << 10

// randomSecret is n random bytes, base64url without padding.
func randomSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// equal compares secrets in constant time.
func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// csrfToken is the CSRF token of the action at path.
func (s *Server) csrfToken(path string) string {
	m := hmac.New(sha256.New, s.csrfSecret)
	m.Write([]byte(path))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// secure wraps next with the checks every request passes, in order: the
// headers, the Host, the token or its cookie, and for a POST the Origin
// and the CSRF token.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Frame-Options", "DENY")
		// same-origin, not no-referrer: under no-referrer a browser sends
		// "Origin: null" with a form's POST to the same origin (Chromium
		// does, per the Fetch standard), which the Origin check must refuse.
		// same-origin sends nothing to other sites either.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")

		if !s.knownHost(r.Host) {
			s.refuse(w, http.StatusMisdirectedRequest, "This dashboard answers only to "+s.origins[0]+".")
			return
		}
		if token, ok := r.URL.Query()["token"]; ok {
			if len(token) != 1 || !equal(token[0], s.token) {
				s.refuse(w, http.StatusForbidden, "This token is not this dashboard's. Open the URL kubectl sluice dashboard printed.")
				return
			}
			http.SetCookie(w, &http.Cookie{Name: s.cookieName, Value: s.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			q := r.URL.Query()
			q.Del("token")
			u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return
		}
		c, err := r.Cookie(s.cookieName)
		if err != nil || !equal(c.Value, s.token) {
			s.refuse(w, http.StatusForbidden, "Open the URL kubectl sluice dashboard printed: it carries the token that lets your browser in.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !s.sameOrigin(r) {
				s.refuse(w, http.StatusForbidden, "This action did not come from the dashboard's own page (its Origin is not "+s.origins[0]+").")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				s.refuse(w, http.StatusBadRequest, "The form could not be read: "+err.Error())
				return
			}
			if !equal(r.PostForm.Get(csrfField), s.csrfToken(r.URL.Path)) {
				s.refuse(w, http.StatusForbidden, "This form's CSRF token is missing or wrong: reload the page and try again.")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// knownHost says whether host is the dashboard's own address, by IP or
// as localhost.
func (s *Server) knownHost(host string) bool {
	for _, o := range s.origins {
		if host == strings.TrimPrefix(o, "http://") {
			return true
		}
	}
	return false
}

// sameOrigin says whether a POST comes from the dashboard's own pages:
// its Origin, or when the browser sent none its Referer.
func (s *Server) sameOrigin(r *http.Request) bool {
	if origin := r.Header.Get("Origin"); origin != "" {
		for _, o := range s.origins {
			if origin == o {
				return true
			}
		}
		return false
	}
	if referer := r.Header.Get("Referer"); referer != "" {
		for _, o := range s.origins {
			if strings.HasPrefix(referer, o+"/") {
				return true
			}
		}
	}
	return false
}

// refuse answers a request that did not pass a check with a short page.
func (s *Server) refuse(w http.ResponseWriter, code int, msg string) {
	s.render(w, code, "refused", page{Title: http.StatusText(code), Message: msg})
}
