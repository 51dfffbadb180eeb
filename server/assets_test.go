package server_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestStaticAssets: pages link their scripts, styles and icon under content-hashed names;
// those are served compressed, cached for a year, and with no cookie, even to a browser
// whose session cookie is stale (which a page answers by clearing it).
func TestStaticAssets(t *testing.T) {
	e := newEnv(t)
	get := func(path string, header ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		// Accept-Encoding set by hand: the transport then leaves the body compressed.
		res, err := (&http.Transport{}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	page := get("/", "Accept-Language", "es")
	html, _ := io.ReadAll(page.Body)
	links := regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`).FindAllStringSubmatch(string(html), -1)
	if len(links) < 3 {
		t.Fatalf("%d static links on the home page", len(links))
	}
	hashed := regexp.MustCompile(`^/static/[a-z-]+\.[0-9a-f]{12}\.(js|css|svg)$`)
	weight := len(html)
	for _, l := range links {
		path := l[1]
		if !hashed.MatchString(path) {
			t.Errorf("%s is not content-hashed", path)
			continue
		}
		res := get(path, "Accept-Encoding", "gzip, br", "Cookie", "puente_session=stale-session-value")
		body, _ := io.ReadAll(res.Body)
		weight += len(body)
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, res.StatusCode)
			continue
		}
		if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "immutable") {
			t.Errorf("%s: Cache-Control %q", path, cc)
		}
		if c := res.Header.Values("Set-Cookie"); len(c) != 0 {
			t.Errorf("%s sets cookies: %v", path, c)
		}
		if v := strings.Join(res.Header.Values("Vary"), ", "); strings.Contains(v, "Cookie") || strings.Contains(v, "Accept-Language") {
			t.Errorf("%s: Vary %q", path, v)
		}
		if !strings.HasSuffix(path, ".svg") && res.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: not compressed (Content-Encoding %q)", path, res.Header.Get("Content-Encoding"))
		}
	}
	t.Logf("home page and its static files: %d bytes over the wire (%d files)", weight, len(links))

	// The stale cookie on a page is cleared: the static files above skipped that, not missed it.
	if c := get("/", "Cookie", "puente_session=stale-session-value").Header.Values("Set-Cookie"); len(c) == 0 {
		t.Error("a page did not clear a stale session cookie: the check above proves nothing")
	}

	res := get("/favicon.ico")
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusFound || !hashed.MatchString(loc) {
		t.Errorf("/favicon.ico: %d to %q", res.StatusCode, loc)
	}
	// Not a file: the error page, in the reader's language.
	res = get("/static/style.000000000000.css", "Accept-Language", "es")
	notFound, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusNotFound || !strings.Contains(string(notFound), "Página no encontrada") {
		t.Errorf("an unknown hash: %d %q", res.StatusCode, notFound)
	}
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/static/style.css", nil)
	req.Header.Set("Accept-Language", "es")
	post, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer post.Body.Close()
	said, _ := io.ReadAll(post.Body)
	if post.StatusCode != http.StatusMethodNotAllowed || post.Header.Get("Allow") != "GET, HEAD" || !strings.Contains(string(said), "no admite") {
		t.Errorf("POST to a static file: %d, Allow %q, %q", post.StatusCode, post.Header.Get("Allow"), said)
	}
}
