package server_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/server"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type env struct {
	t     *testing.T
	store *store.Store
	ts    *httptest.Server
	woken int
}

func newEnv(t *testing.T, mutate ...func(*server.Options)) *env {
	t.Helper()
	st := store.New(pgtest.New(t), nil)
	e := &env{t: t, store: st}
	opts := server.Options{Store: st, DevMail: true, Registry: prometheus.NewRegistry(),
		Ready: st.Ping, MailQueued: func() { e.woken++ }}
	for _, m := range mutate {
		m(&opts)
	}
	e.ts = newTestServer(t, opts)
	return e
}

// newTestServer starts the application on a loopback port (the base URL is only known
// once it listens).
func newTestServer(t testing.TB, opts server.Options) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ts.Start()
	t.Cleanup(ts.Close)
	opts.BaseURL, _ = url.Parse(ts.URL)
	if opts.DevMail {
		localDelivery(t, &opts)
	}
	if opts.App == nil {
		wireApp(t, &opts)
	}
	app, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = app.Handler()
	return ts
}

// wireApp builds the use cases (package app) on opts.Store, as serve does, with the
// options' clock, wake-up and link key (made here when the test gave none).
func wireApp(t testing.TB, opts *server.Options) {
	t.Helper()
	if opts.LinkKey == nil {
		opts.LinkKey = make([]byte, 32)
		_, _ = rand.Read(opts.LinkKey)
	}
	st, ok := opts.Store.(app.Store)
	if !ok {
		t.Fatalf("the test's store %T cannot make changes", opts.Store)
	}
	uc, err := app.New(app.Options{Store: st, Now: opts.Now, MailQueued: func() {
		if opts.MailQueued != nil {
			opts.MailQueued()
		}
	}, LinkKey: opts.LinkKey, SignInLinksPerHour: opts.SignInLinksPerHour, Recordings: opts.Recordings})
	if err != nil {
		t.Fatal(err)
	}
	opts.App = uc
}

// browser is a client with cookies that does not follow redirects on its own.
func (e *env) browser(lang string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, lang: lang, http: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type client struct {
	e    *env
	lang string
	http *http.Client
	csrf string
}

type response struct {
	status int
	header http.Header
	body   string
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (c *client) do(method, path string, body io.Reader, header map[string]string) response {
	c.e.t.Helper()
	req, err := http.NewRequest(method, c.e.ts.URL+path, body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, body: string(b)}
	if m := csrfField.FindStringSubmatch(r.body); m != nil {
		c.csrf = m[1]
	}
	return r
}

func (c *client) get(path string) response { return c.do(http.MethodGet, path, nil, nil) }

func (c *client) post(path string, form url.Values) response {
	if _, ok := form["_csrf"]; !ok {
		form.Set("_csrf", c.csrf)
	}
	return c.do(http.MethodPost, path, strings.NewReader(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

var linkPattern = regexp.MustCompile(`https?://[^\s"<>]+/sign-in/link\?token=[A-Za-z0-9_\-]+`)

// latestLink reads the newest sign-in email from the outbox, as the mailbox page shows it.
func (e *env) latestLink(to string) string {
	e.t.Helper()
	msgs, err := e.store.Mailbox(context.Background(), 10)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range msgs {
		if m.To == to {
			if link := linkPattern.FindString(m.Text); link != "" {
				return link
			}
		}
	}
	e.t.Fatalf("no sign-in email for %s", to)
	return ""
}

// signIn goes through the whole sign-in by email as a person would.
func (c *client) signIn(email string) {
	c.e.t.Helper()
	c.get("/sign-in")
	if r := c.post("/sign-in", url.Values{"email": {email}, "next": {"/profile"}}); r.status != 200 || !strings.Contains(r.body, "signin-sent") {
		c.e.t.Fatalf("request link: %d %s", r.status, r.body)
	}
	link := c.e.latestLink(email)
	u, _ := url.Parse(link)
	r := c.get(u.RequestURI())
	if r.status != 200 || !strings.Contains(r.body, `id="signin-confirm"`) {
		c.e.t.Fatalf("open link: %d %s", r.status, r.body)
	}
	r = c.post("/sign-in/link", url.Values{"token": {u.Query().Get("token")}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/profile" {
		c.e.t.Fatalf("confirm link: %d %s", r.status, r.header.Get("Location"))
	}
}

func TestSignInFlowAndProfile(t *testing.T) {
	e := newEnv(t)
	b := e.browser("en")
	if r := b.get("/profile"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/sign-in?next=") {
		t.Fatalf("signed-out profile should redirect to sign-in, got %d %s", r.status, r.header.Get("Location"))
	}
	b.signIn("ana@example.org")
	r := b.get("/profile")
	if r.status != 200 || !strings.Contains(r.body, "ana@example.org") || !strings.Contains(r.body, "You are signed in") {
		t.Fatalf("profile after sign-in: %d %s", r.status, r.body)
	}
	// Session cookie flags.
	u, _ := url.Parse(e.ts.URL)
	found := false
	for _, ck := range b.http.Jar.Cookies(u) {
		found = found || ck.Name == "puente_session"
	}
	if !found {
		t.Fatal("no session cookie")
	}

	r = b.post("/profile", url.Values{"name": {"Ana Pérez"}, "affiliation": {"Universidad de Chile"}, "country": {"CL"},
		"career_stage": {"early_career"}, "language": {"es"}, "time_zone": {"America/Santiago"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("save profile: %d %s", r.status, r.body)
	}
	r = b.get("/profile")
	if !strings.Contains(r.body, `<a href="/profile" aria-current="page">`) || strings.Contains(r.body, `<a href="/programme" aria-current`) {
		t.Errorf("the header does not mark the profile as the current page")
	}
	if !strings.Contains(r.body, "Tu perfil se ha guardado") || !strings.Contains(r.body, `value="Ana Pérez"`) || !strings.Contains(r.body, `<html lang="es">`) {
		t.Fatalf("profile in Spanish after saving language es: %s", r.body)
	}
	r = b.post("/profile", url.Values{"time_zone": {"Mars/Olympus"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Mars/Olympus") {
		t.Fatalf("bad time zone: %d", r.status)
	}
	if !strings.Contains(r.body, `id="profile-error"`) || !strings.Contains(r.body, `aria-invalid="true" aria-describedby="profile-error time_zone-state"`) {
		t.Errorf("the refused time zone is not marked invalid and linked to the message")
	}

	// Sign out ends the session on the server too.
	r = b.post("/sign-out", url.Values{})
	if r.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", r.status)
	}
	if r := b.get("/profile"); r.status != http.StatusSeeOther {
		t.Fatalf("profile after sign-out: %d", r.status)
	}
}

func TestSignInLinkReuseAndBadInput(t *testing.T) {
	e := newEnv(t)
	b := e.browser("en")
	b.signIn("ana@example.org")
	link := e.latestLink("ana@example.org")
	u, _ := url.Parse(link)

	other := e.browser("es")
	r := other.get(u.RequestURI())
	if r.status != http.StatusGone || !strings.Contains(r.body, "Envíame un enlace nuevo") {
		t.Fatalf("reused link should offer a new one (in Spanish): %d %s", r.status, r.body)
	}
	r = other.get("/sign-in/link?token=nonsense")
	if r.status != http.StatusGone || !strings.Contains(r.body, `action="/sign-in"`) {
		t.Fatalf("unknown link: %d", r.status)
	}
	other.get("/sign-in")
	r = other.post("/sign-in", url.Values{"email": {"not an email"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "aria-invalid") {
		t.Fatalf("bad email: %d", r.status)
	}
}

func TestCSRFRequired(t *testing.T) {
	e := newEnv(t)
	b := e.browser("en")
	b.get("/sign-in")
	r := b.post("/sign-in", url.Values{"email": {"ana@example.org"}, "_csrf": {"forged"}})
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "form had expired") {
		t.Fatalf("forged CSRF token: %d %s", r.status, r.body)
	}
	if msgs, _ := e.store.Mailbox(context.Background(), 10); len(msgs) != 0 {
		t.Fatalf("a refused request queued mail")
	}
}

func TestSignInRateLimitPerClient(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.SignInClientBurst = 2; o.SignInLinksPerHour = 100 })
	b := e.browser("en")
	b.get("/sign-in")
	for i := 0; i < 2; i++ {
		if r := b.post("/sign-in", url.Values{"email": {fmt.Sprintf("p%d@example.org", i)}}); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := b.post("/sign-in", url.Values{"email": {"p9@example.org"}})
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("third request from one client: %d", r.status)
	}
}

func apiJSON(t *testing.T, r response) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("not JSON (%d): %s", r.status, r.body)
	}
	return v
}

func TestAPITokensAndErrors(t *testing.T) {
	e := newEnv(t)
	b := e.browser("en")
	b.signIn("ana@example.org")

	// A token made in the browser (the profile page shows it once).
	b.get("/profile")
	r := b.post("/profile/tokens", url.Values{"name": {"script"}})
	m := regexp.MustCompile(`id="new-token" class="secret">(pat_[A-Za-z0-9_\-]+)<`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no token shown: %s", r.body)
	}
	api := e.browser("")
	bearer := map[string]string{"Authorization": "Bearer " + m[1]}
	r = api.do("GET", "/api/v1/me", nil, bearer)
	if r.status != 200 || apiJSON(t, r)["email"] != "ana@example.org" {
		t.Fatalf("GET /me with token: %d %s", r.status, r.body)
	}
	jsonHdr := map[string]string{"Authorization": bearer["Authorization"], "Content-Type": "application/json"}
	r = api.do("PATCH", "/api/v1/me", strings.NewReader(`{"time_zone":"America/La_Paz"}`), jsonHdr)
	if r.status != 200 || apiJSON(t, r)["time_zone"] != "America/La_Paz" {
		t.Fatalf("PATCH /me: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		body, field string
		status      int
	}{
		{`{"time_zone":"Nowhere/Else"}`, "time_zone", 400},
		{`{"colour":"blue"}`, "colour", 400},
		{`{"name": 7}`, "name", 400},
		{`{"name": "x"`, "", 400},
		{``, "", 400},
		{`{"name":"` + strings.Repeat("x", 2<<20) + `"}`, "", 413},
	} {
		r := api.do("PATCH", "/api/v1/me", strings.NewReader(tc.body), jsonHdr)
		if r.status != tc.status {
			t.Errorf("%.40q: status %d, want %d (%s)", tc.body, r.status, tc.status, r.body)
			continue
		}
		errObj, _ := apiJSON(t, r)["error"].(map[string]any)
		if errObj == nil || errObj["message"] == "" || (tc.field != "" && errObj["field"] != tc.field) {
			t.Errorf("%.40q: error body %s", tc.body, r.body)
		}
	}

	// Create and revoke through the API.
	r = api.do("POST", "/api/v1/me/tokens", strings.NewReader(`{"name":"ci"}`), jsonHdr)
	if r.status != 201 {
		t.Fatalf("create token: %d %s", r.status, r.body)
	}
	created := apiJSON(t, r)
	second := map[string]string{"Authorization": "Bearer " + created["token"].(string)}
	if r := api.do("GET", "/api/v1/me", nil, second); r.status != 200 {
		t.Fatalf("new token: %d", r.status)
	}
	if r := api.do("DELETE", fmt.Sprintf("/api/v1/me/tokens/%v", created["id"]), nil, bearer); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := api.do("GET", "/api/v1/me", nil, second); r.status != 401 {
		t.Fatalf("revoked token still accepted: %d", r.status)
	}
	if r := api.do("GET", "/api/v1/me", nil, map[string]string{"Authorization": "Basic abc"}); r.status != 401 {
		t.Fatalf("wrong auth scheme: %d", r.status)
	}
	if r := api.do("GET", "/api/v1/nothing-here", nil, nil); r.status != 404 || apiJSON(t, r)["error"] == nil {
		t.Fatalf("unknown API path: %d %s", r.status, r.body)
	}
	// A session cookie alone cannot change state through the API without the CSRF header.
	r = b.do("PATCH", "/api/v1/me", strings.NewReader(`{"name":"x"}`), map[string]string{"Content-Type": "application/json"})
	if r.status != 403 {
		t.Fatalf("cookie-authenticated PATCH without CSRF header: %d", r.status)
	}
}

func TestAdminPagesNeedAdmin(t *testing.T) {
	e := newEnv(t)
	admin := e.browser("en")
	admin.signIn("first@example.org") // the first account becomes site admin
	user := e.browser("en")
	user.signIn("second@example.org")

	if r := user.get("/admin/people"); r.status != http.StatusForbidden {
		t.Fatalf("non-admin on admin page: %d", r.status)
	}
	if r := user.do("GET", "/api/v1/people", nil, nil); r.status != http.StatusForbidden {
		t.Fatalf("non-admin on people API: %d", r.status)
	}
	r := admin.get("/admin/people?q=second")
	if r.status != 200 || !strings.Contains(r.body, "second@example.org") || strings.Contains(r.body, "first@example.org</span>") {
		t.Fatalf("admin people search: %d", r.status)
	}
	second, _ := e.store.PersonByEmail(context.Background(), "second@example.org")
	r = admin.post(fmt.Sprintf("/admin/people/%d/roles", second.ID), url.Values{"organiser": {"1"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("grant organiser: %d %s", r.status, r.body)
	}
	if p, _ := e.store.PersonByID(context.Background(), second.ID); !p.IsOrganiser || p.IsAdmin {
		t.Fatalf("roles not saved: %+v", p)
	}
	// CSRF applies to admin forms too.
	if r := user.post(fmt.Sprintf("/admin/people/%d/roles", second.ID), url.Values{"admin": {"1"}}); r.status != http.StatusForbidden {
		t.Fatalf("non-admin granting themselves admin: %d", r.status)
	}
}

func TestDevMailboxAccess(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.DevMailOpen = true })
	b := e.browser("en")
	if r := b.get("/dev/mail"); r.status != 200 {
		t.Fatalf("loopback mailbox: %d", r.status)
	}
	if r := b.do("GET", "/dev/mail", nil, map[string]string{"X-Forwarded-For": "203.0.113.9"}); r.status != http.StatusForbidden {
		t.Fatalf("proxied (not local) mailbox request: %d", r.status)
	}
	b.get("/sign-in")
	b.post("/sign-in", url.Values{"email": {"ana@example.org"}})
	msgs, _ := e.store.Mailbox(context.Background(), 1)
	r := b.get(fmt.Sprintf("/dev/mail/%d", msgs[0].ID))
	if r.status != 200 || !strings.Contains(r.body, `<a href="`+e.ts.URL+`/sign-in/link?token=`) {
		t.Fatalf("mailbox message with clickable link: %d %s", r.status, r.body)
	}
	if e.woken != 1 {
		t.Errorf("with no SMTP the local delivery must be woken (it renders the emails)")
	}

	withSMTP := newEnv(t, func(o *server.Options) { o.DevMail = false })
	if r := withSMTP.browser("en").get("/dev/mail"); r.status != 404 {
		t.Fatalf("mailbox served although SMTP is configured: %d", r.status)
	}
	c := withSMTP.browser("en")
	c.get("/sign-in")
	c.post("/sign-in", url.Values{"email": {"ana@example.org"}})
	if withSMTP.woken != 1 {
		t.Errorf("sender not woken after queueing mail")
	}
}

func TestHealthReadinessMetricsHeaders(t *testing.T) {
	e := newEnv(t)
	b := e.browser("")
	if r := b.get("/healthz"); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	if r := b.get("/readyz"); r.status != 200 {
		t.Fatalf("readyz %d", r.status)
	}
	r := b.get("/")
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy", "X-Request-Id"} {
		if r.header.Get(h) == "" {
			t.Errorf("missing header %s", h)
		}
	}
	if !strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("CSP: %s", r.header.Get("Content-Security-Policy"))
	}
	if r := b.get("/no/such/page"); r.status != 404 || !strings.Contains(r.body, "<html") {
		t.Fatalf("HTML 404: %d", r.status)
	}
	m := b.get("/metrics")
	if m.status != 200 || !strings.Contains(m.body, `puente_http_requests_total{method="GET",route="/",status="200"} 1`) {
		t.Fatalf("metrics: %s", m.body)
	}

	down := newEnv(t, func(o *server.Options) {
		o.Ready = func(context.Context) error { return fmt.Errorf("database unreachable") }
	})
	if r := down.browser("").get("/readyz"); r.status != 503 {
		t.Fatalf("readyz with database down: %d", r.status)
	}
}

func TestLanguages(t *testing.T) {
	e := newEnv(t)
	if r := e.browser("es-CL,es;q=0.9").get("/"); !strings.Contains(r.body, `<html lang="es">`) || !strings.Contains(r.body, "Iniciar sesión") {
		t.Fatalf("Spanish from Accept-Language")
	}
	if r := e.browser("pt-BR").get("/"); !strings.Contains(r.body, `<html lang="pt">`) || !strings.Contains(r.body, "Entrar") {
		t.Fatalf("Portuguese from a Brazilian Accept-Language")
	}
	if r := e.browser("pt-PT,pt;q=0.9").get("/"); !strings.Contains(r.body, `<html lang="pt">`) {
		t.Fatalf("Portuguese from a European Portuguese Accept-Language")
	}
	if r := e.browser("fr-FR,de;q=0.8").get("/"); !strings.Contains(r.body, `<html lang="en">`) {
		t.Fatalf("unsupported language falls back to English")
	}
	b := e.browser("en")
	r := b.get("/lang/es?next=%2Fsign-in")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/sign-in" {
		t.Fatalf("switch: %d %s", r.status, r.header.Get("Location"))
	}
	if r := b.get("/sign-in"); !strings.Contains(r.body, "Envíame un enlace de acceso") {
		t.Fatalf("switched language not used")
	}
	if r := b.get("/lang/es?next=https://evil.example"); r.header.Get("Location") != "/" {
		t.Fatalf("open redirect: %s", r.header.Get("Location"))
	}
	if r := b.get("/lang/xx"); r.status != 400 {
		t.Fatalf("unknown language: %d", r.status)
	}
}

func TestPanicBecomes500(t *testing.T) {
	// A store that panics stands in for a bug anywhere below the handlers.
	e := newEnv(t, func(o *server.Options) { wireApp(t, o); o.Store = panickingStore{o.Store} })
	b := e.browser("en")
	r := b.do("GET", "/api/v1/me", nil, map[string]string{"Authorization": "Bearer pat_x"})
	if r.status != 500 || !strings.Contains(r.body, "request_id") {
		t.Fatalf("panic: %d %s", r.status, r.body)
	}
	if r := b.get("/healthz"); r.status != 200 {
		t.Fatalf("server did not survive the panic")
	}
}

type panickingStore struct{ server.Store }

func (panickingStore) PersonByAPIToken(context.Context, []byte) (domain.Person, error) {
	panic("boom")
}
