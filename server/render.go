package server

import (
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/frontend"
	"github.com/puente-org/puente/frontend/assets"
	"github.com/puente-org/puente/i18n"
)

// page is what every template receives: the request's context plus the page's own Data.
type page struct {
	l          *i18n.Localizer
	Lang       string
	Languages  []option
	Person     *domain.Person
	CSRF       string
	Path       string // where "sign in" and the language switch come back to (not escaped: templates escape it once)
	RequestID  string
	DevMail    bool
	Flash      string
	ZoneKnown  bool   // the reader's time zone is known (profile or browser)
	ZoneName   string // and its label ("Santiago (-03)")
	ZoneTitle  string // and its name in words ("Santiago time")
	ZoneSource string // "profile", "browser" or "" (unknown)
	Data       any
	zone       *time.Location
}

type option struct{ Code, Name string }

// Here reports whether the page is section (a path such as "/programme") or under it: the
// header marks that link aria-current="page".
func (p page) Here(section string) bool {
	path, _, _ := strings.Cut(p.Path, "?")
	return path == section || strings.HasPrefix(path, section+"/")
}

// T translates a message id (templates: {{.T "id" "Name" value}}).
func (p page) T(id string, args ...any) string { return p.l.T(id, args...) }

// City is a time zone's city in the reader's language (CLDR: "Londres" for Europe/London),
// the label a zone picker shows beside the zone's name.
func (p page) City(zone string) string { return p.l.City(zone) }

// Date and DateTime show an instant in the reader's time zone.
func (p page) Date(t any) string     { return p.format(t, "2006-01-02") }
func (p page) DateTime(t any) string { return p.format(t, "2006-01-02 15:04 MST") }

func (p page) format(v any, layout string) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	default:
		return fmt.Sprint(v)
	}
	return t.In(p.zone).Format(layout)
}

// parseTemplates parses the page and mail templates; {{asset "name"}} in them is the URL of
// a static file under its content-hashed name.
func parseTemplates(static *assets.Set) (pages, mails map[string]*template.Template, err error) {
	funcs := template.FuncMap{"linkify": linkify, "list": func(xs ...string) []string { return xs }, "asset": static.Path,
		"minutes": func(d time.Duration) int { return int(d / time.Minute) }, "actions": domain.RegistrationStatus.Actions}
	fsys := frontend.Templates()
	names, err := fs.Glob(fsys, "*.html")
	if err != nil {
		return nil, nil, fmt.Errorf("list templates: %w", err)
	}
	pages = map[string]*template.Template{}
	mails = map[string]*template.Template{}
	for _, name := range names {
		switch {
		case name == "layout.html" || name == "partials.html":
		case strings.HasPrefix(name, "mail_"):
			t, err := template.New(name).Funcs(funcs).ParseFS(fsys, name)
			if err != nil {
				return nil, nil, fmt.Errorf("parse %s: %w", name, err)
			}
			mails[name] = t
		default:
			t, err := template.New(name).Funcs(funcs).ParseFS(fsys, "layout.html", "partials.html", name)
			if err != nil {
				return nil, nil, fmt.Errorf("parse %s: %w", name, err)
			}
			pages[name] = t
		}
	}
	return pages, mails, nil
}

// newPage fills the common part of a page for this request.
func (s *Server) newPage(c echo.Context, data any) page {
	l := localizerOf(c)
	p := page{
		l:         l,
		Lang:      l.Lang(),
		Person:    personOf(c),
		Path:      returnPath(c),
		RequestID: requestIDOf(c),
		Data:      data,
		zone:      time.UTC,
	}
	p.CSRF, _ = c.Get(keyCSRF).(string)
	for _, code := range s.catalog.Languages() {
		p.Languages = append(p.Languages, option{Code: code, Name: languageName(code)})
	}
	if p.Person != nil {
		if loc, err := time.LoadLocation(p.Person.Profile.TimeZone); err == nil && p.Person.Profile.TimeZone != "" {
			p.zone = loc
		}
	}
	if loc := viewerZone(c); loc != nil {
		p.ZoneKnown, p.ZoneName, p.ZoneTitle = true, zoneLabel(localizerOf(c), loc, s.o.Now()), localizerOf(c).ZoneName(loc)
		p.zone = loc
		p.ZoneSource = "browser"
		if p.Person != nil && p.Person.Profile.TimeZone != "" {
			p.ZoneSource = "profile"
		}
	}
	p.DevMail = s.o.DevMail && ((p.Person != nil && p.Person.IsAdmin) || fromLoopback(c.Request()))
	if ck, err := c.Cookie(flashCookie); err == nil && s.catalog.Has(ck.Value) {
		p.Flash = l.T(ck.Value)
		s.clearCookie(c, flashCookie)
	}
	return p
}

// render writes a full page.
func (s *Server) render(c echo.Context, status int, name string, data any) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("no template %q", name)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", s.newPage(c, data)); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTML(status, b.String())
}

// flash shows a translated one-line notice on the next page (after a redirect). Only a
// message id travels in the cookie, never text.
func (s *Server) flash(c echo.Context, id string) {
	c.SetCookie(&http.Cookie{Name: flashCookie, Value: id, Path: "/", HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

func (s *Server) clearCookie(c echo.Context, name string) {
	c.SetCookie(&http.Cookie{Name: name, Value: "", Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// languageName is a language's own name, capitalised as a menu item ("Español").
func languageName(code string) string {
	name := display.Self.Name(language.MustParse(code))
	r, size := utf8.DecodeRuneInString(name)
	return string(unicode.ToUpper(r)) + name[size:]
}

// countryOptions lists countries by name in the reader's language, sorted for that language.
func countryOptions(lang string) []option {
	tag := language.MustParse(lang)
	names := display.Regions(tag)
	opts := make([]option, 0, len(domain.Countries()))
	for _, code := range domain.Countries() {
		name := code
		if r, err := language.ParseRegion(code); err == nil {
			if n := names.Name(r); n != "" {
				name = n
			}
		}
		opts = append(opts, option{Code: code, Name: name})
	}
	col := collate.New(tag)
	sort.SliceStable(opts, func(i, j int) bool { return col.CompareString(opts[i].Name, opts[j].Name) < 0 })
	return opts
}

var urlPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// linkify escapes plain text and turns http(s) URLs in it into links (the local mailbox).
func linkify(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range urlPattern.FindAllStringIndex(text, -1) {
		b.WriteString(template.HTMLEscapeString(text[last:m[0]]))
		u := text[m[0]:m[1]]
		fmt.Fprintf(&b, `<a href="%s">%s</a>`, template.HTMLEscapeString(u), template.HTMLEscapeString(u))
		last = m[1]
	}
	b.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(b.String())
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// returnPath is the page a person should come back to after signing in or switching
// language: this page, or for a form's answer (a POST) the page the form was on.
func returnPath(c echo.Context) string {
	r := c.Request()
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return localPath(r.URL.RequestURI())
	}
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host {
		return localPath(ref.RequestURI())
	}
	return "/"
}

// localPath accepts only a path on this site as a redirect target (no open redirects):
// no scheme or host, no "//" or backslash a browser would read as another host, no
// control characters (browsers drop tabs and newlines, so "/\t/evil" becomes "//evil").
// A path that arrives encoded once too often (links made before this was fixed, or
// copied by hand) is decoded once.
func localPath(next string) string {
	if len(next) > 2000 {
		return "/"
	}
	if len(next) >= 3 && strings.EqualFold(next[:3], "%2F") {
		if dec, err := url.QueryUnescape(next); err == nil {
			next = dec
		}
	}
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') {
		return "/"
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f {
			return "/"
		}
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}
