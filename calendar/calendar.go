// Package calendar writes the iCalendar (RFC 5545 / 7986) feeds of Puente: a series or
// conference feed, a programme feed of several events, a personal feed of the occurrences a
// person registered for (with their join links), and the one-event .ics of an occurrence. It is
// pure: the caller loads the data; nothing here touches a database or HTTP.
//
// What the feeds follow (docs calendar.md):
//
//   - A recurring series is ONE master VEVENT (UID series-<id>@host) with DTSTART;TZID, RRULE
//     (UNTIL in UTC, the end of the last local day) and RDATE/EXDATE in the same zone, plus an
//     override VEVENT (same UID, RECURRENCE-ID;TZID naming the rule's start) for every generated
//     occurrence that differs from what the rule says: moved, cancelled (STATUS:CANCELLED, kept),
//     own title, abstract or speakers. Extra occurrences and conference sessions are VEVENTs of
//     their own (UID occurrence-<id>@host); so is a generated occurrence whose original start the
//     rule no longer yields (a row kept from before a change of the series' time), and a rule
//     instance inside the span of the stored occurrences that has no occurrence becomes an EXDATE,
//     so a feed shows exactly the stored occurrences. A series without RRULE and RDATE is a single
//     VEVENT with the series UID.
//   - SEQUENCE: the master carries the event's Sequence; an override, extra, session or personal
//     item carries event Sequence + occurrence Sequence, which grows whenever either is bumped.
//     LAST-MODIFIED is the newer UpdatedAt of the two.
//   - Times are never floating: every DATE-TIME has a TZID (with a VTIMEZONE generated from Go's
//     tz data, see vtimezone.go) or is UTC. X-WR-TIMEZONE is written only when all events share
//     one zone.
//   - The past is trimmed: an occurrence that ended before the start of Now's UTC day minus
//     Options.KeepPast (default 90 days) is left out (an override only when both its own and its
//     original time are that old); a master keeps its RRULE. Trimming by day keeps the output,
//     apart from DTSTAMP, fixed for a day, which is what Fingerprint promises.
//   - A cancelled occurrence's SUMMARY starts with "Cancelled: " (Google and Outlook show
//     STATUS:CANCELLED events of a subscription like any other) and its DESCRIPTION with the reason.
//   - Public feeds carry public page links only; join links appear only in PersonalFeed and in
//     OccurrenceICS when the caller passes one.
//   - golang-ical holds the structure; encode.go writes it (CRLF, folding at 75 octets between
//     UTF-8 characters, TEXT escaping, quoted parameters), which golang-ical's writer gets wrong.
package calendar

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/programme"
)

// Defaults for Options.
const (
	DefaultKeepPast = 90 * 24 * time.Hour
	DefaultRefresh  = 6 * time.Hour
)

// ProdID is the calendar's PRODID.
const ProdID = "-//Puente//Puente seminar calendar 1.0//EN"

const (
	wallFormat     = "20060102T150405"
	utcFormat      = "20060102T150405Z"
	descriptionMax = 1500 // characters of abstract or description text in DESCRIPTION
)

// Labels are the words a reader sees in entries, in the reader's language (the caller takes
// them from its catalogues). A zero field takes the English one of EnglishLabels.
type Labels struct {
	Cancelled  string // SUMMARY prefix and DESCRIPTION of a cancelled occurrence: "Cancelled"
	Speaker    string // "Speaker", before one speaker's name
	Speakers   string // "Speakers", before several
	Join       string // "Join", before the join link in DESCRIPTION
	JoinOnline string // the CONFERENCE property's label: "Join online"
	MyFeed     string // a personal feed's default name: "Puente: my seminars"
}

// EnglishLabels are the labels used where Options give none.
var EnglishLabels = Labels{Cancelled: "Cancelled", Speaker: "Speaker", Speakers: "Speakers", Join: "Join",
	JoinOnline: "Join online", MyFeed: "Puente: my seminars"}

// or fills l's empty fields from d.
func (l Labels) or(d Labels) Labels {
	pick := func(a, b string) string {
		if a == "" {
			return b
		}
		return a
	}
	return Labels{Cancelled: pick(l.Cancelled, d.Cancelled), Speaker: pick(l.Speaker, d.Speaker),
		Speakers: pick(l.Speakers, d.Speakers), Join: pick(l.Join, d.Join), JoinOnline: pick(l.JoinOnline, d.JoinOnline),
		MyFeed: pick(l.MyFeed, d.MyFeed)}
}

// Options are the settings of one feed.
type Options struct {
	Host     string        // for UIDs: "series-42@<Host>"; when empty, the host of BaseURL
	BaseURL  string        // public site URL, for links to series, conference and occurrence pages
	Name     string        // calendar name (NAME and X-WR-CALNAME)
	FeedURL  string        // the feed's own URL (URL and SOURCE of the calendar)
	Now      time.Time     // DTSTAMP, and "now" for trimming the past; zero means time.Now()
	KeepPast time.Duration // occurrences that ended longer ago than this (counted from the start of Now's UTC day) are left out; 0 = DefaultKeepPast (90 days)
	Refresh  time.Duration // REFRESH-INTERVAL and X-PUBLISHED-TTL; 0 = DefaultRefresh (6 hours)
	Labels   Labels        // the reader's words; empty fields are English
}

// EventData is an event with its occurrences, as the caller loads them.
type EventData struct {
	Event       domain.Event
	Occurrences []domain.Occurrence
}

// PersonalItem is one occurrence a person registered for, with that person's join link.
type PersonalItem struct {
	Event      domain.Event
	Occurrence domain.Occurrence
	JoinURL    string
}

func (o Options) normalised() Options {
	if o.KeepPast <= 0 {
		o.KeepPast = DefaultKeepPast
	}
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC().Truncate(time.Second)
	o.Labels = o.Labels.or(EnglishLabels)
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.Host == "" {
		if u, err := url.Parse(o.BaseURL); err == nil {
			o.Host = u.Hostname()
		}
		if o.Host == "" {
			o.Host = "puente"
		}
	}
	return o
}

// cutoff is the instant before which ended occurrences are trimmed.
func (o Options) cutoff() time.Time {
	y, m, d := o.Now.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Add(-o.KeepPast)
}

// SeriesFeed is the feed of one series or conference.
func SeriesFeed(d EventData, o Options) ([]byte, error) {
	if o.Name == "" {
		o.Name = d.Event.Title
	}
	return ProgrammeFeed([]EventData{d}, o)
}

// ProgrammeFeed is the feed of several events in one calendar, each written as SeriesFeed
// writes it, with one VTIMEZONE per zone used.
func ProgrammeFeed(ds []EventData, o Options) ([]byte, error) {
	if o.Name == "" {
		o.Name = "Puente"
	}
	b := newBuilder(o, true)
	for i := range ds {
		if err := b.event(&ds[i]); err != nil {
			return nil, err
		}
	}
	return b.finish(), nil
}

// PersonalFeed lists the given occurrences as single VEVENTs (no RRULE; UID
// occurrence-<id>@host), each with the person's join link in CONFERENCE (RFC 7986), in URL and
// in DESCRIPTION, since Outlook, Apple Calendar and Thunderbird ignore CONFERENCE. A cancelled
// occurrence is kept (STATUS:CANCELLED) without its join link. Trimming applies as in the other feeds.
func PersonalFeed(items []PersonalItem, o Options) ([]byte, error) {
	if o.Name == "" {
		o.Name = o.Labels.or(EnglishLabels).MyFeed
	}
	b := newBuilder(o, true)
	for i := range items {
		it := &items[i]
		if !b.keep(it.Occurrence.End) {
			continue
		}
		if err := b.single(&it.Event, &it.Occurrence, occurrenceUID(b.o.Host, it.Occurrence.ID), nil, it.JoinURL); err != nil {
			return nil, err
		}
	}
	return b.finish(), nil
}

// OccurrenceICS is one occurrence as a one-event calendar (METHOD:PUBLISH), for the "download
// .ics" button and email attachments. A generated occurrence of a recurring series keeps the
// series UID and a RECURRENCE-ID, so clients match it with a subscribed feed; an extra, a session
// or a one-off series is its feed's VEVENT. Its SEQUENCE is event + occurrence Sequence, also
// when the occurrence matches the rule again (a restored cancellation), so an email about the
// change always supersedes the earlier one. joinURL "" for the public download. Nothing is
// trimmed; the calendar gets NAME, X-WR-CALNAME and URL only when Options set them, and no
// refresh hints, since it is not a subscription.
func OccurrenceICS(e domain.Event, occ domain.Occurrence, joinURL string, o Options) ([]byte, error) {
	b := newBuilder(o, false)
	uid := occurrenceUID(b.o.Host, occ.ID)
	var recurrenceID *time.Time
	if occ.Origin == "generated" && e.Kind != domain.KindConference {
		rule := programme.RuleOf(e)
		recurring := rule.RRule != "" || len(rule.RDates) > 0
		if !recurring {
			uid = seriesUID(b.o.Host, e.ID)
		} else if occ.OriginalStart != nil {
			ok, err := isInstance(rule, *occ.OriginalStart)
			if err != nil {
				return nil, err
			}
			if ok {
				uid, recurrenceID = seriesUID(b.o.Host, e.ID), occ.OriginalStart
			}
		}
	}
	if err := b.single(&e, &occ, uid, recurrenceID, joinURL); err != nil {
		return nil, err
	}
	return b.finish(), nil
}

func seriesUID(host string, id int64) string {
	return "series-" + strconv.FormatInt(id, 10) + "@" + host
}

func occurrenceUID(host string, id int64) string {
	return "occurrence-" + strconv.FormatInt(id, 10) + "@" + host
}

// isInstance reports whether the rule yields the wall time w.
func isInstance(rule programme.Rule, w time.Time) (bool, error) {
	loc, err := rule.Location()
	if err != nil {
		return false, err
	}
	s := programme.ResolveLenient(loc, w)
	insts, err := rule.Expand(s, s.Add(time.Second), 0)
	if err != nil {
		return false, err
	}
	for _, in := range insts {
		if in.Wall.Equal(programme.Floating(w)) {
			return true, nil
		}
	}
	return false, nil
}
