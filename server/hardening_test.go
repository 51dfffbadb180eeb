package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/puente-org/puente/server"
	"github.com/puente-org/puente/store"
)

// serveFrom sends req to the application as if it came over a connection from remote.
func serveFrom(e *env, remote string, req *http.Request) *httptest.ResponseRecorder {
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	e.ts.Config.Handler.ServeHTTP(rec, req)
	return rec
}

func TestMetricsOnlyForLoopbackListedAddressesOrToken(t *testing.T) {
	e := newEnv(t, func(o *server.Options) {
		o.MetricsToken = "metrics-secret"
		o.MetricsAllow = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	})
	get := func(remote string, header map[string]string) int {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		return serveFrom(e, remote, req).Code
	}
	for _, tc := range []struct {
		name   string
		remote string
		header map[string]string
		want   int
	}{
		{"loopback", "127.0.0.1:5000", nil, 200},
		{"loopback IPv6", "[::1]:5000", nil, 200},
		{"public client", "203.0.113.9:5000", nil, 404},
		{"forwarded by a proxy on loopback", "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "203.0.113.9"}, 404},
		{"Forwarded header", "127.0.0.1:5000", map[string]string{"Forwarded": "for=203.0.113.9"}, 404},
		{"listed address", "198.51.100.7:5000", nil, 200},
		{"token", "203.0.113.9:5000", map[string]string{"Authorization": "Bearer metrics-secret"}, 200},
		{"wrong token", "203.0.113.9:5000", map[string]string{"Authorization": "Bearer metrics-secreT"}, 404},
		{"listed address forged in a header", "203.0.113.9:5000", map[string]string{"X-Forwarded-For": "198.51.100.7"}, 404},
	} {
		if got := get(tc.remote, tc.header); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}

	// Behind a trusted proxy the listed address is the forwarded client's.
	proxied := newEnv(t, func(o *server.Options) {
		o.TrustProxy = true
		o.MetricsAllow = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	})
	for xff, want := range map[string]int{"198.51.100.7": 200, "203.0.113.9": 404} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("X-Forwarded-For", xff)
		if got := serveFrom(proxied, "127.0.0.1:5000", req).Code; got != want {
			t.Errorf("trusted proxy for %s: %d, want %d", xff, got, want)
		}
	}
}

func TestDevMailboxNeedsAdminOrDevelopmentSetting(t *testing.T) {
	closed := newEnv(t) // DevMail (no SMTP) but DevMailOpen off: a public base URL
	b := closed.browser("en")
	if r := b.get("/dev/mail"); r.status != http.StatusForbidden || !strings.Contains(r.body, "PUENTE_DEV_MAILBOX") {
		t.Fatalf("loopback request with the development setting off: %d", r.status)
	}
	admin := closed.browser("en")
	admin.signIn("root@example.org") // the first account is a site admin
	b.signIn("ana@example.org")
	if r := b.get("/dev/mail"); r.status != http.StatusForbidden {
		t.Fatalf("signed in, not admin: %d", r.status)
	}
	if r := admin.get("/dev/mail"); r.status != http.StatusOK {
		t.Fatalf("admin: %d", r.status)
	}

	open := newEnv(t, func(o *server.Options) { o.DevMailOpen = true })
	if r := open.browser("en").get("/dev/mail"); r.status != http.StatusOK {
		t.Fatalf("loopback with the development setting on: %d", r.status)
	}
	req := httptest.NewRequest(http.MethodGet, "/dev/mail", nil)
	if rec := serveFrom(open, "203.0.113.9:5000", req); rec.Code != http.StatusForbidden {
		t.Fatalf("another machine with the development setting on: %d", rec.Code)
	}
}

// A CSRF token belongs to one session: not to the next session of the same browser, nor to
// a cookie planted from elsewhere.
func TestCSRFTokenBoundToSession(t *testing.T) {
	e := newEnv(t)
	b := e.browser("en")
	b.signIn("ana@example.org")
	b.get("/profile")
	first := b.csrf
	if r := b.post("/profile", url.Values{"name": {"Ana"}, "_csrf": {first}}); r.status != http.StatusSeeOther {
		t.Fatalf("own token: %d %s", r.status, r.body)
	}
	b.post("/sign-out", url.Values{})
	b.signIn("ana@example.org")
	if r := b.post("/profile", url.Values{"name": {"Old token"}, "_csrf": {first}}); r.status != http.StatusForbidden {
		t.Fatalf("token of the previous session accepted: %d", r.status)
	}

	// Another person's token does not work for ana's session either.
	other := e.browser("en")
	other.signIn("bea@example.org")
	other.get("/profile")
	if r := b.post("/profile", url.Values{"name": {"Bea's token"}, "_csrf": {other.csrf}}); r.status != http.StatusForbidden {
		t.Fatalf("another session's token accepted: %d", r.status)
	}

	// A planted CSRF cookie with a matching form value (double submit) is not enough.
	u, _ := url.Parse(e.ts.URL)
	b.http.Jar.SetCookies(u, []*http.Cookie{{Name: "puente_csrf", Value: strings.Repeat("A", 43), Path: "/"}})
	if r := b.post("/profile", url.Values{"name": {"Planted"}, "_csrf": {strings.Repeat("A", 43)}}); r.status != http.StatusForbidden {
		t.Fatalf("planted cookie token accepted: %d", r.status)
	}
	b.get("/profile")
	if r := b.post("/profile", url.Values{"name": {"Ana"}}); r.status != http.StatusSeeOther {
		t.Fatalf("fresh token of the session refused: %d %s", r.status, r.body)
	}
	p, err := e.store.PersonIDByEmail(context.Background(), "ana@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.store.PersonByID(context.Background(), p); got.Profile.Name != "Ana" {
		t.Fatalf("name changed by a refused request: %q", got.Profile.Name)
	}
}

// An http page may not open the websocket of an https site, even on the same host.
func TestLiveWebSocketOriginScheme(t *testing.T) {
	p, _, _ := newLiveEnv(t)
	wsURL := "ws" + strings.TrimPrefix(p.ts.URL, "http") + "/live/ws"
	dial := func(origin string) int {
		h := http.Header{"Origin": {origin}, "Host": {"puente.example.org"}, "X-Forwarded-Proto": {"https"}}
		ws, res, err := websocket.DefaultDialer.Dial(wsURL, h)
		if err == nil {
			_ = ws.Close()
			return http.StatusSwitchingProtocols
		}
		if res == nil {
			t.Fatalf("dial %s: %v", origin, err)
		}
		return res.StatusCode
	}
	if got := dial("http://puente.example.org"); got != http.StatusForbidden {
		t.Errorf("http origin for an https page: %d, want 403", got)
	}
	if got := dial("https://puente.example.org"); got != http.StatusSwitchingProtocols {
		t.Errorf("https origin for an https page: %d, want 101", got)
	}
	if got := dial("https://puente.example.org:443"); got != http.StatusSwitchingProtocols {
		t.Errorf("https origin with the default port: %d, want 101", got)
	}
}

// unreachablePool is a real pgx pool to an address where no database listens.
func unreachablePool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

// While the database is down every request that needs it answers 503 "unavailable", and
// /readyz says so without naming sockets, hosts or users.
func TestDatabaseDownIsUnavailable(t *testing.T) {
	dsn := "postgres://secretuser@127.0.0.1:" + strconv.Itoa(closedPort(t)) + "/puente?sslmode=disable"
	st := store.New(unreachablePool(t, dsn), nil)
	ts := newTestServer(t, server.Options{Store: st, Registry: prometheus.NewRegistry(), Ready: st.Ping})

	res, err := http.Get(ts.URL + "/api/v1/series")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var out struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(body, &out)
	if res.StatusCode != http.StatusServiceUnavailable || out.Error.Code != "unavailable" {
		t.Fatalf("API with the database down: %d %s", res.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/programme", nil)
	req.AddCookie(&http.Cookie{Name: "puente_session", Value: "sess_whatever"})
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("page with a session cookie, database down: %d", res.StatusCode)
	}

	res, err = http.Get(ts.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz: %d", res.StatusCode)
	}
	for _, secret := range []string{"secretuser", "127.0.0.1", "dial", "connect"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("readyz shows %q: %s", secret, body)
		}
	}
}

// A value a person sent is quoted in an error message only as a short prefix.
func TestErrorMessagesQuoteShortPrefix(t *testing.T) {
	p := newProgEnv(t)
	huge := strings.Repeat("9", 512<<10)
	for field, body := range map[string]map[string]any{
		"start_date": {"title": "T", "timezone": "UTC", "start_date": huge, "start_time": "10:00"},
		"timezone":   {"title": "T", "timezone": huge, "start_date": "2026-01-05", "start_time": "10:00"},
		"rrule":      {"title": "T", "timezone": "UTC", "start_date": "2026-01-05", "start_time": "10:00", "rrule": "FREQ=" + huge},
		"unknown":    {"title": "T", huge: 1},
	} {
		b, _ := json.Marshal(body)
		code, raw := p.send("organiser", http.MethodPost, "/api/v1/series", strings.NewReader(string(b)))
		if code != http.StatusBadRequest || len(raw) > 1000 {
			t.Errorf("%s: %d, %d bytes: %.300s", field, code, len(raw), raw)
		}
	}
}

// A body over the limit is refused with 413 whether or not it says its length.
func TestOversizedBodyChunked(t *testing.T) {
	p := newProgEnv(t, func(o *server.Options) { o.MaxBodyBytes = 4 << 10 })
	big := `{"title": "` + strings.Repeat("x", 8<<10) + `"}`
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(big)
		if chunked {
			body = io.MultiReader(body) // no length known: sent chunked
		}
		code, raw := p.send("organiser", http.MethodPost, "/api/v1/series", body)
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(raw), `"too_large"`) {
			t.Errorf("API, chunked=%v: %d %s", chunked, code, raw)
		}
	}

	// The same for a form sent by a signed-in browser.
	b := p.browser("en")
	b.signIn("ana@example.org")
	b.get("/profile")
	form := url.Values{"_csrf": {b.csrf}, "name": {strings.Repeat("x", 8<<10)}}.Encode()
	r := b.do(http.MethodPost, "/profile", io.MultiReader(strings.NewReader(form)),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("form, chunked: %d", r.status)
	}
}
