package assets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/puente-org/puente/frontend"
)

func testSet(t *testing.T) *Set {
	t.Helper()
	s, err := New(fstest.MapFS{
		"live.js":     {Data: []byte(strings.Repeat("export class LiveClient {}\n", 50))},
		"room.js":     {Data: []byte(`import { LiveClient } from "./live.js";` + "\n" + strings.Repeat("new LiveClient();\n", 50))},
		"style.css":   {Data: []byte(strings.Repeat("main { padding: 1rem; }\n", 50))},
		"favicon.svg": {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
	}, "/static/")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(t *testing.T, s *Set, path string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	if !s.Serve(w, r) {
		w.WriteHeader(http.StatusNotFound) // as the server answers, in the reader's language
	}
	return w.Result()
}

func body(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var hashed = regexp.MustCompile(`^/static/([a-z]+)\.[0-9a-f]{12}\.([a-z]+)$`)

func TestHashedNamesAndImports(t *testing.T) {
	s := testSet(t)
	live, err := s.Path("live.js")
	if err != nil || !hashed.MatchString(live) {
		t.Fatalf("Path(live.js) = %q, %v", live, err)
	}
	room, _ := s.Path("room.js")
	res := get(t, s, room)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", room, res.StatusCode)
	}
	// The module imports live.js under its hashed name, and its own hash covers that.
	want := `from "./` + strings.TrimPrefix(live, "/static/") + `"`
	if b := body(t, res); !bytes.Contains(b, []byte(want)) {
		t.Errorf("room.js imports %q, want %s", b[:60], want)
	}
	if _, err := s.Path("nope.js"); err == nil {
		t.Error("Path of a missing file: no error")
	}
	// Another content, another name.
	other, err := New(fstest.MapFS{"live.js": {Data: []byte("export class LiveClient { x() {} }")}}, "/static/")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := other.Path("live.js"); p == live {
		t.Errorf("two contents share the name %s", p)
	}
}

func TestCachingAndCompression(t *testing.T) {
	s := testSet(t)
	css, _ := s.Path("style.css")

	res := get(t, s, css, "Accept-Encoding", "gzip, deflate, br")
	if got := res.Header.Get("Cache-Control"); got != hashedCache {
		t.Errorf("Cache-Control %q, want %q", got, hashedCache)
	}
	if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("Content-Encoding %q, Vary %q", res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("Content-Type %q", ct)
	}
	if len(res.Header.Values("Set-Cookie")) != 0 {
		t.Error("a cookie on a static file")
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.HasPrefix(plain, []byte("main { padding")) {
		t.Fatalf("gzip body: %q, %v", plain, err)
	}
	gzTag := res.Header.Get("ETag")

	// Without gzip in Accept-Encoding (or with q=0): the file as it is.
	for _, ae := range []string{"", "identity", "gzip;q=0", "gzip; q=0.0", "*;q=0"} {
		res = get(t, s, css, "Accept-Encoding", ae)
		if res.Header.Get("Content-Encoding") != "" || !bytes.Equal(body(t, res), plain) {
			t.Errorf("Accept-Encoding %q: encoded %q", ae, res.Header.Get("Content-Encoding"))
		}
		if res.Header.Get("ETag") == gzTag {
			t.Errorf("Accept-Encoding %q: the gzip body's ETag on the plain one", ae)
		}
	}

	// A tiny file that gzip would make larger is sent as it is.
	icon, _ := s.Path("favicon.svg")
	if res := get(t, s, icon, "Accept-Encoding", "gzip"); res.Header.Get("Content-Encoding") != "" {
		t.Error("a tiny file sent gzip-compressed")
	}

	// Revalidation: 304 with the ETag the browser has.
	if res := get(t, s, css, "Accept-Encoding", "gzip", "If-None-Match", gzTag); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", res.StatusCode)
	}

	// The plain name still works, for a short time.
	res = get(t, s, "/static/style.css")
	if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != plainCache {
		t.Errorf("plain name: %d, Cache-Control %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	s := testSet(t)
	for _, p := range []string{"/static/style.000000000000.css", "/static/missing.js", "/static/", "/static/../assets.go", "/other/style.css"} {
		if res := get(t, s, p); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
		}
	}
	css, _ := s.Path("style.css")
	w := httptest.NewRecorder()
	if s.Serve(w, httptest.NewRequest(http.MethodPost, css, nil)) || w.Body.Len() != 0 || len(w.Header()) != 0 {
		t.Errorf("POST: served, or wrote %d bytes and headers %v", w.Body.Len(), w.Header())
	}
	w = httptest.NewRecorder()
	s.Serve(w, httptest.NewRequest(http.MethodHead, css, nil))
	if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q", w.Code, w.Body.Len(), w.Header().Get("Content-Length"))
	}
}

func TestImportCycleIsAnError(t *testing.T) {
	_, err := New(fstest.MapFS{
		"a.js": {Data: []byte(`import "./b.js";`)},
		"b.js": {Data: []byte(`import "./a.js";`)},
	}, "/static/")
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("a cycle: %v", err)
	}
}

// TestTheRealFiles: Puente's own static files build into a set, and every script's relative
// imports point at hashed names.
func TestTheRealFiles(t *testing.T) {
	s, err := New(frontend.Static(), "/static/")
	if err != nil {
		t.Fatal(err)
	}
	plainImport := regexp.MustCompile(`from "\./[a-z-]+\.js"`)
	for name, f := range s.byName {
		if strings.HasSuffix(name, ".js") && plainImport.Match(f.plain) {
			t.Errorf("%s still imports a plain name: %s", name, plainImport.Find(f.plain))
		}
		if strings.HasSuffix(name, ".js") || strings.HasSuffix(name, ".css") {
			if f.gz == nil {
				t.Errorf("%s is not compressed", name)
			}
		}
	}
	if len(s.byName) < 5 {
		t.Errorf("%d files", len(s.byName))
	}

	// As served: each file under its hashed name, that hash being of the bytes sent, with a
	// type, and gzip (when offered) decoding to exactly those bytes.
	hashedName := regexp.MustCompile(`^/static/[a-z-]+\.[0-9a-f]{12}\.[a-z]+$`)
	importedName := regexp.MustCompile(`from "\./([a-z-]+\.[0-9a-f]{12}\.js)"`)
	for name := range s.byName {
		p, err := s.Path(name)
		if err != nil || !hashedName.MatchString(p) {
			t.Errorf("Path(%s) = %q, %v", name, p, err)
			continue
		}
		plainRes := get(t, s, p)
		plain := body(t, plainRes)
		sum := sha256.Sum256(plain)
		if want := hex.EncodeToString(sum[:])[:hashLen]; !strings.Contains(p, "."+want+".") {
			t.Errorf("%s: served as %s, but its bytes hash to %s", name, p, want)
		}
		if plainRes.StatusCode != http.StatusOK || plainRes.Header.Get("Content-Type") == "" {
			t.Errorf("%s: %d, Content-Type %q", p, plainRes.StatusCode, plainRes.Header.Get("Content-Type"))
		}
		res := get(t, s, p, "Accept-Encoding", "gzip")
		if res.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(res.Body)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			unzipped, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(unzipped, plain) {
				t.Errorf("%s: the gzip body does not decode to the file (%v)", p, err)
			}
		}
		// A module's imports resolve to files the set serves.
		for _, m := range importedName.FindAllSubmatch(plain, -1) {
			if r := get(t, s, "/static/"+string(m[1])); r.StatusCode != http.StatusOK {
				t.Errorf("%s imports %s: %d", name, m[1], r.StatusCode)
			}
		}
	}
}
