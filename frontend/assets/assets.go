// Package assets serves the static files under content-hashed names: each file's name
// carries a hash of its content ("live.3f9a1c2b7d0e.js"), so a browser may keep it for a
// year and a new release is fetched at once. Files are compressed with gzip once, when the
// set is built, and served to browsers that accept it; responses carry no cookies (the
// server's session and CSRF middleware skip these paths).
//
// Scripts that import another file of the set by a relative path ("./live.js") are served
// with the hashed name in its place, so that a module and its imports are cached as one
// release.
package assets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// hashLen is how many hex digits of the SHA-256 of a file's content its name carries.
const hashLen = 12

// Cache lifetimes: a hashed name never changes content; a plain name (an old page, a
// bookmark, /favicon.ico) may, at the next release.
const (
	hashedCache = "public, max-age=31536000, immutable"
	plainCache  = "public, max-age=300"
)

// file is one static file, as served.
type file struct {
	name   string // as in the source: "live.js"
	hashed string // "live.3f9a1c2b7d0e.js"
	ctype  string
	etag   string // the hash, quoted
	plain  []byte
	gz     []byte // nil when compression does not make it smaller
}

// Set is the static files, ready to serve. It is read-only once built.
type Set struct {
	prefix   string // the URL path they are served under, with its slashes: "/static/"
	byName   map[string]*file
	byHashed map[string]*file
}

// New reads every file of fsys (no directories below it), rewrites the scripts' relative
// imports of one another to hashed names, and hashes and compresses them. prefix is the
// URL path the files are served under ("/static/").
func New(fsys fs.FS, prefix string) (*Set, error) {
	s := &Set{prefix: prefix, byName: map[string]*file{}, byHashed: map[string]*file{}}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	src := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("assets: %w", err)
		}
		src[e.Name()] = b
	}
	// A script is hashed after the files it imports, whose hashed names it then carries.
	pending := make([]string, 0, len(src))
	for name := range src {
		pending = append(pending, name)
	}
	sort.Strings(pending)
	for len(pending) > 0 {
		var later []string
		for _, name := range pending {
			deps := imports(name, src[name], src)
			ready := true
			for _, d := range deps {
				if s.byName[d] == nil {
					ready = false
				}
			}
			if !ready {
				later = append(later, name)
				continue
			}
			content := src[name]
			for _, d := range deps {
				content = bytes.ReplaceAll(content, []byte(`"./`+d+`"`), []byte(`"./`+s.byName[d].hashed+`"`))
				content = bytes.ReplaceAll(content, []byte(`'./`+d+`'`), []byte(`'./`+s.byName[d].hashed+`'`))
			}
			f, err := newFile(name, content)
			if err != nil {
				return nil, err
			}
			s.byName[name], s.byHashed[f.hashed] = f, f
		}
		if len(later) == len(pending) {
			return nil, fmt.Errorf("assets: %s import one another in a cycle", strings.Join(later, ", "))
		}
		pending = later
	}
	return s, nil
}

// imports lists the other files of the set that a script imports by a relative path.
func imports(name string, content []byte, all map[string][]byte) []string {
	if path.Ext(name) != ".js" {
		return nil
	}
	var out []string
	for other := range all {
		if other == name {
			continue
		}
		if bytes.Contains(content, []byte(`"./`+other+`"`)) || bytes.Contains(content, []byte(`'./`+other+`'`)) {
			out = append(out, other)
		}
	}
	sort.Strings(out)
	return out
}

func newFile(name string, content []byte) (*file, error) {
	sum := sha256.Sum256(content)
	h := hex.EncodeToString(sum[:])[:hashLen]
	ext := path.Ext(name)
	f := &file{name: name, hashed: strings.TrimSuffix(name, ext) + "." + h + ext, etag: `"` + h + `"`, plain: content}
	f.ctype = mime.TypeByExtension(ext)
	if f.ctype == "" {
		f.ctype = "application/octet-stream"
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("assets: compress %s: %w", name, err)
	}
	if _, err := zw.Write(content); err != nil {
		return nil, fmt.Errorf("assets: compress %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("assets: compress %s: %w", name, err)
	}
	if buf.Len() < len(content) {
		f.gz = buf.Bytes()
	}
	return f, nil
}

// Path is the URL path of the file called name in the source ("live.js"), under its hashed
// name; an error names a file the set does not have (a template's typo fails at start-up).
func (s *Set) Path(name string) (string, error) {
	f := s.byName[name]
	if f == nil {
		return "", fmt.Errorf("assets: no static file %q", name)
	}
	return s.prefix + f.hashed, nil
}

// Serve answers a GET or HEAD for a file under its hashed name (cached for a year) or its
// plain one (cached for five minutes), gzip-compressed when the browser accepts it, with
// ETags, conditional and range requests. It writes nothing and returns false when the
// request is not for one of the files: the caller answers that, in the reader's language.
func (s *Set) Serve(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	name, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	if !ok {
		return false
	}
	f, cache := s.byHashed[name], hashedCache
	if f == nil {
		f, cache = s.byName[name], plainCache
	}
	if f == nil {
		return false
	}
	h := w.Header()
	h.Set("Cache-Control", cache)
	h.Set("Content-Type", f.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Vary", "Accept-Encoding")
	body, etag := f.plain, f.etag
	if f.gz != nil && acceptsGzip(r.Header.Values("Accept-Encoding")) {
		body, etag = f.gz, `"`+strings.Trim(f.etag, `"`)+`-gz"`
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	return true
}

// acceptsGzip reads Accept-Encoding: gzip (or *) with a q-value above zero.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "*" {
				continue
			}
			if k, q, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(q), 64); err == nil && f <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}
