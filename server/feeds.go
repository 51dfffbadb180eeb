package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/calendar"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/links"
	"github.com/puente-org/puente/store"
)

// feedCache keeps recently built feeds by fingerprint, so a calendar client polling an
// unchanged feed costs a few queries and no rebuild. It is bounded; the oldest entry goes.
type feedCache struct {
	mu    sync.Mutex
	max   int
	order []string
	items map[string][]byte
}

func newFeedCache(max int) *feedCache { return &feedCache{max: max, items: map[string][]byte{}} }

func (c *feedCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.items[key]
	return b, ok
}

func (c *feedCache) put(key string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; ok {
		return
	}
	if len(c.order) >= c.max {
		delete(c.items, c.order[0])
		c.order = c.order[1:]
	}
	c.order = append(c.order, key)
	c.items[key] = b
}

// feedWindow: feeds show occurrences from a while ago (documented in calendar) to the
// end of the generated horizon.
func (s *Server) feedFilter() store.OccurrenceFilter {
	return store.OccurrenceFilter{From: s.o.Now().Add(-calendar.DefaultKeepPast - 24*time.Hour), IncludeCancelled: true, Limit: 50000}
}

// groupByEvent turns a listing into the calendar package's input, events in id order.
func groupByEvent(list []store.Listed) []calendar.EventData {
	byID := map[int64]*calendar.EventData{}
	var ids []int64
	for _, l := range list {
		d, ok := byID[l.Event.ID]
		if !ok {
			d = &calendar.EventData{Event: l.Event}
			byID[l.Event.ID] = d
			ids = append(ids, l.Event.ID)
		}
		d.Occurrences = append(d.Occurrences, l.Occurrence)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]calendar.EventData, 0, len(ids))
	for _, id := range ids {
		out = append(out, *byID[id])
	}
	return out
}

// serveFeed answers a feed request: 304 when the client's copy is current (decided from
// etag and modified alone, before any row is loaded), else the feed, from the cache when it
// is unchanged, else built by build.
func (s *Server) serveFeed(c echo.Context, etag string, modified time.Time, private bool, build func() ([]byte, error)) error {
	if modified.IsZero() {
		modified = s.o.Now()
	}
	h := c.Response().Header()
	h.Del("Vary") // the same for every client (Google's fetcher sends no Accept nor cookies)
	h.Set("ETag", etag)
	h.Set("Last-Modified", modified.UTC().Format(http.TimeFormat))
	if private {
		h.Set("Cache-Control", "private, max-age=300")
		h.Set("Referrer-Policy", "no-referrer")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	if match := c.Request().Header.Get("If-None-Match"); match != "" {
		for _, m := range strings.Split(match, ",") {
			if m = strings.TrimSpace(m); m == etag || m == "*" || strings.TrimPrefix(m, "W/") == strings.TrimPrefix(etag, "W/") {
				return c.NoContent(http.StatusNotModified)
			}
		}
	} else if since, err := http.ParseTime(c.Request().Header.Get("If-Modified-Since")); err == nil && !modified.Truncate(time.Second).After(since) {
		return c.NoContent(http.StatusNotModified)
	}
	body, ok := s.feeds.get(etag)
	if !ok {
		var err error
		if body, err = build(); err != nil {
			return err
		}
		s.feeds.put(etag, body)
	}
	return c.Stream(http.StatusOK, "text/calendar; charset=utf-8", bytes.NewReader(body))
}

// stampETag makes a public feed's ETag from the database's stamp of its rows and what else
// shapes it: its name and address, the day (the past is trimmed by date) and the binary
// (its tz data and encoder).
func stampETag(stamp string, o calendar.Options, now time.Time) string {
	h := sha256.Sum256([]byte(strings.Join([]string{stamp, o.Name, o.FeedURL, now.UTC().Format(time.DateOnly), runtime.Version(), feedFormat}, "\x00")))
	return `W/"` + hex.EncodeToString(h[:16]) + `"`
}

// feedFormat changes when the feed encoding changes in a way the stamp cannot see.
const feedFormat = "1"

// loadEventData loads the rows behind a public feed.
func (s *Server) loadEventData(ctx context.Context, f store.OccurrenceFilter) ([]calendar.EventData, error) {
	list, err := s.o.Store.Occurrences(ctx, f)
	if err != nil {
		return nil, err
	}
	return groupByEvent(list), nil
}

func icsName(c echo.Context) (string, error) {
	name, ok := strings.CutSuffix(c.Param("file"), ".ics")
	if !ok || name == "" {
		return "", domain.New(domain.CodeNotFound, "err.feed.ics")
	}
	return name, nil
}

// eventFeed is the feed of one series or conference.
func (s *Server) eventFeed(kind domain.EventKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		slug, err := icsName(c)
		if err != nil {
			return err
		}
		e, err := s.o.Store.EventBySlug(c.Request().Context(), slug)
		if err != nil {
			return err
		}
		if e.Kind != kind {
			return domain.New(domain.CodeNotFound, "err.feed.none")
		}
		f := s.feedFilter()
		f.EventID = e.ID
		ctx := c.Request().Context()
		stamp, modified, err := s.o.Store.OccurrenceStamp(ctx, f)
		if err != nil {
			return err
		}
		lang := s.feedLang(c, "")
		var q url.Values
		if lang != "" {
			q = url.Values{"lang": {lang}}
		}
		o := s.calendarOptions(e.Title, s.absURL("/feeds"+s.eventPath(e)+".ics", q), lang)
		// The event itself is part of the stamp only through its sessions: add its own edits.
		stamp += ":" + strconv.Itoa(e.Sequence) + ":" + e.UpdatedAt.UTC().Format(time.RFC3339Nano) + ":" + lang
		modified = maxTime(modified, e.UpdatedAt)
		return s.serveFeed(c, stampETag(stamp, o, s.o.Now()), modified, false, func() ([]byte, error) {
			ds, err := s.loadEventData(ctx, f)
			if err != nil {
				return nil, err
			}
			d := calendar.EventData{Event: e}
			if len(ds) > 0 {
				d = ds[0]
			}
			return calendar.SeriesFeed(d, o)
		})
	}
}

// programmeFeed is every public series and conference, optionally one topic or language.
func (s *Server) programmeFeed(c echo.Context) error {
	f := s.feedFilter()
	f.PublicOnly, f.Tag, f.Language = true, c.QueryParam("tag"), c.QueryParam("language")
	ctx := c.Request().Context()
	stamp, modified, err := s.o.Store.OccurrenceStamp(ctx, f)
	if err != nil {
		return err
	}
	name := "Puente"
	if f.Tag != "" {
		name += ": " + f.Tag
	}
	lang := s.feedLang(c, "")
	o := s.calendarOptions(name, s.absURL("/feeds/programme.ics", c.QueryParams()), lang)
	stamp += ":" + lang
	return s.serveFeed(c, stampETag(stamp, o, s.o.Now()), modified, false, func() ([]byte, error) {
		ds, err := s.loadEventData(ctx, f)
		if err != nil {
			return nil, err
		}
		return calendar.ProgrammeFeed(ds, o)
	})
}

// feedLang is the language of a feed's words: ?lang= when it names a supported one, else
// owner's (a personal feed's owner), else "" (English: calendar clients send no language).
func (s *Server) feedLang(c echo.Context, owner string) string {
	for _, l := range []string{c.QueryParam("lang"), owner} {
		if l != "" && s.catalog.Supported(l) {
			return l
		}
	}
	return ""
}

// feedToken signs a person's personal feed URL.
func (s *Server) feedURL(personID, nonce int64) string {
	return s.absURL("/feeds/personal/"+s.links.Token("feed", personID, nonce)+".ics", nil)
}

// personalFeed is everything a person registered for, with their join links, and every
// occurrence of the series and conferences they follow. The URL's
// token is the only key (calendar clients send no cookies); an unknown, forged or revoked
// token is a plain 404 that does not say which.
func (s *Server) personalFeed(c echo.Context) error {
	notFound := domain.New(domain.CodeNotFound, "err.feed.none")
	token, err := icsName(c)
	if err != nil {
		return notFound
	}
	ctx := c.Request().Context()
	id, err := links.ID(token)
	if err != nil {
		return notFound
	}
	nonce, err := s.o.Store.FeedNonce(ctx, id)
	if err != nil || s.links.Check("feed", token, nonce) != nil {
		return notFound
	}
	items, ds, err := s.personalItems(ctx, id)
	if err != nil {
		return err
	}
	owner, err := s.o.Store.PersonByID(ctx, id)
	if err != nil {
		return err
	}
	o := s.calendarOptions("", s.feedURL(id, nonce), s.feedLang(c, owner.Profile.Language))
	// A personal feed is small: its rows are loaded anyway, and fingerprinted directly.
	etag := `W/"` + calendar.Fingerprint(ds, o) + `"`
	return s.serveFeed(c, etag, calendar.LastModified(ds), true, func() ([]byte, error) { return calendar.PersonalFeed(items, o) })
}

func (s *Server) personalItems(ctx context.Context, personID int64) ([]calendar.PersonalItem, []calendar.EventData, error) {
	regs, err := s.o.Store.Registrations(ctx, store.RegistrationFilter{PersonID: personID})
	if err != nil {
		return nil, nil, err
	}
	byOcc := map[int64]store.Registration{}
	ids := []int64{}
	for _, r := range regs {
		if r.Status == domain.RegConfirmed || r.Status == domain.RegWaitlisted || r.Status == domain.RegPending {
			byOcc[r.OccurrenceID] = r
			ids = append(ids, r.OccurrenceID)
		}
	}
	followed, err := s.o.Store.Followed(ctx, personID)
	if err != nil {
		return nil, nil, err
	}
	f := s.feedFilter()
	f.IDs, f.EventIDs = ids, followed
	list, err := s.o.Store.Occurrences(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	items := make([]calendar.PersonalItem, 0, len(list))
	for i := range list {
		r := byOcc[list[i].Occurrence.ID]
		// A change of the registration (its status) changes the item: fold it into the
		// occurrence's update time, which the fingerprint reads.
		list[i].Occurrence.UpdatedAt = maxTime(list[i].Occurrence.UpdatedAt, r.UpdatedAt)
		join := ""
		if r.Status == domain.RegConfirmed {
			join = s.joinURL(r)
		}
		items = append(items, calendar.PersonalItem{Event: list[i].Event, Occurrence: list[i].Occurrence, JoinURL: join})
	}
	return items, groupByEvent(list), nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// occurrenceICS downloads one occurrence as an .ics file (no personal link).
func (s *Server) occurrenceDownload(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	b, err := calendar.OccurrenceICS(l.Event, l.Occurrence, "", s.calendarOptions("", "", localizerOf(c).Lang()))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+l.Event.Slug+"-"+l.Occurrence.StartLocal.Format("2006-01-02")+`.ics"`)
	return c.Blob(http.StatusOK, "text/calendar; charset=utf-8", b)
}

func (s *Server) regenerateFeed(c echo.Context) error {
	if err := s.app.RegenerateFeed(c.Request().Context(), actor(c)); err != nil {
		return err
	}
	s.flash(c, "feeds.regenerated")
	return c.Redirect(http.StatusSeeOther, "/profile#calendar")
}

// subscribe is what the subscribe buttons need for one feed URL.
type subscribe struct {
	URL, Google string
	Webcal      template.URL // html/template would refuse the webcal: scheme; we build it ourselves
}

func subscribeFor(feedURL string) subscribe {
	webcal := "webcal://" + strings.TrimPrefix(strings.TrimPrefix(feedURL, "https://"), "http://")
	return subscribe{URL: feedURL, Webcal: template.URL(webcal), // #nosec G203 -- built from our own base URL
		Google: "https://calendar.google.com/calendar/render?cid=" + url.QueryEscape(webcal)}
}

// follow and unfollow: from a series or conference page.
func (s *Server) follow(on bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := s.eventFromPath(c)
		if err != nil {
			return err
		}
		if personOf(c) == nil {
			return signInFirst(c, s.eventPath(e))
		}
		if on {
			err = s.app.Follow(c.Request().Context(), actor(c), e.ID)
		} else {
			err = s.app.Unfollow(c.Request().Context(), actor(c), e.ID)
		}
		if err != nil {
			return err
		}
		if on {
			s.flash(c, "follow.flash_on")
		} else {
			s.flash(c, "follow.flash_off")
		}
		return c.Redirect(http.StatusSeeOther, s.eventPath(e))
	}
}
