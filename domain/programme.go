package domain

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// EventKind says whether an event is a recurring seminar series or a conference.
type EventKind string

const (
	KindSeries     EventKind = "series"
	KindConference EventKind = "conference"
)

// Registration modes.
const (
	RegistrationOpen     = "open"
	RegistrationApproval = "approval"
	RegistrationClosed   = "closed"
)

// Visibility of an event: public ones are listed in the programme; unlisted ones are
// reachable by their link only.
const (
	VisibilityPublic   = "public"
	VisibilityUnlisted = "unlisted"
)

// Event is a seminar series or a conference: what organisers schedule.
type Event struct {
	ID           int64
	Kind         EventKind
	Slug         string
	Title        string
	Description  string // Markdown
	Tags         []string
	Language     string
	Visibility   string
	TimeZone     string    // IANA zone of the schedule
	StartDate    time.Time // first date (series) or first day (conference), date only
	StartTime    string    // local start time "HH:MM" (series)
	EndDate      *time.Time
	Duration     time.Duration
	RRule        string      // RFC 5545 RRULE value; "" = a single event
	RDates       []time.Time // wall times
	ExDates      []time.Time // wall times
	Capacity     int         // per occurrence; 0 = unlimited
	Registration string
	JoinWindow   time.Duration
	Reminders    []int      // minutes before each occurrence when registrants are reminded
	Questions    []Question // the organisers' own registration questions
	Venue        Venue
	Organisers   []int64
	Sequence     int
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Venue is where a hybrid session happens in person.
type Venue struct{ Name, Address, Room string }

// Track is a parallel room of a conference.
type Track struct {
	ID       int64
	EventID  int64
	Name     string
	Room     string
	Position int
}

// Occurrence statuses.
const (
	StatusScheduled = "scheduled"
	StatusCancelled = "cancelled"
)

// Occurrence is one talk of a series or one session of a conference; registrations,
// speakers and live rooms attach to it.
type Occurrence struct {
	ID            int64
	EventID       int64
	Origin        string     // generated, extra, session
	OriginalStart *time.Time // the rule's wall time, for generated ones
	StartLocal    time.Time  // wall time in the event's zone
	Duration      time.Duration
	Start, End    time.Time // instants (derived)
	Moved         bool
	Title         string // own title; empty means the event's
	Abstract      string
	TrackID       *int64
	Status        string
	CancelReason  string
	Sequence      int
	Speakers      []Speaker
	UpdatedAt     time.Time
}

// Speaker gives a talk. Organisers link a speaker to an account by Email (kept private);
// PersonID is the account with that address, found by the store (never taken from a
// client), and gives speaker rights for the occurrence.
type Speaker struct {
	Name        string
	Affiliation string
	Bio         string
	Link        string
	Email       string
	PersonID    *int64
	// PhotoID is the speaker's photo, 0 for none. A client may only keep a photo the
	// occurrence's speakers already have.
	PhotoID int64
	// PhotoKey is the photo's unguessable key, under which it is served (PhotoURL); the
	// sequential PhotoID never appears in a URL, so photos of unlisted events cannot be
	// found by counting.
	PhotoKey string
}

// PhotoURL is where the speaker's photo is served, "" for none.
func (sp Speaker) PhotoURL() string {
	return PhotoURL(sp.PhotoKey)
}

// PhotoURL is where the photo with this key is served, "" for no key.
func PhotoURL(key string) string {
	if key == "" {
		return ""
	}
	return "/speaker-photos/" + key
}

// Topic tags the community uses; organisers may add others.
func SuggestedTags() []string {
	return []string{"direct lithium extraction", "cathode materials", "battery technologies", "recycling",
		"refining", "ESG", "supply chains", "policy"}
}

var slugJunk = regexp.MustCompile(`[^a-z0-9]+`)

// Slugify makes a URL slug from a title ("Materiales de batería" → "materiales-de-bateria").
func Slugify(title string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(title)) {
		if unicode.Is(unicode.Mn, r) {
			continue // drop accents
		}
		b.WriteRune(r)
	}
	s := strings.Trim(slugJunk.ReplaceAllString(b.String(), "-"), "-")
	if len(s) > 60 {
		s = strings.Trim(s[:60], "-")
	}
	if s == "" {
		s = "event"
	}
	return s
}

// NormalizeTags trims, de-duplicates and checks topic tags.
func NormalizeTags(tags []string) ([]string, error) {
	seen := map[string]bool{}
	out := []string{}
	for _, t := range tags {
		t = strings.Join(strings.Fields(t), " ")
		if err := CheckStorable("tags", t); err != nil {
			return nil, err
		}
		if t == "" {
			continue
		}
		if utf8.RuneCountInString(t) > 40 {
			return nil, Invalid("tags", "err.tags.too_long")
		}
		key := strings.ToLower(t)
		if !seen[key] {
			seen[key] = true
			out = append(out, t)
		}
	}
	if len(out) > 12 {
		return nil, Invalid("tags", "err.tags.too_many")
	}
	return out, nil
}

// Validate checks a speaker's fields.
func (s Speaker) Validate() error {
	if err := CheckStorable("speakers", s.Name, s.Affiliation, s.Bio, s.Link, s.Email); err != nil {
		return err
	}
	if s.Email != "" {
		if _, err := NormalizeEmail(s.Email); err != nil {
			return Invalid("speakers", "err.speakers.email", "Email", Clip(s.Email))
		}
	}
	switch {
	case strings.TrimSpace(s.Name) == "":
		return Invalid("speakers", "err.speakers.name")
	case utf8.RuneCountInString(s.Name) > 200 || utf8.RuneCountInString(s.Affiliation) > 200:
		return Invalid("speakers", "err.speakers.name_too_long")
	case utf8.RuneCountInString(s.Bio) > 2000:
		return Invalid("speakers", "err.speakers.bio_too_long")
	case s.Link != "" && !strings.HasPrefix(s.Link, "https://") && !strings.HasPrefix(s.Link, "http://"):
		return Invalid("speakers", "err.speakers.link_scheme")
	case len(s.Link) > 500:
		return Invalid("speakers", "err.speakers.link_too_long")
	}
	return nil
}

// Formats of attendance a programme can be filtered by: online only (no venue), or with a
// venue to attend in person (hybrid: the live room is open to everyone else too).
const (
	FormatOnline   = "online"
	FormatInPerson = "in_person"
)

// MaxSearchLen bounds a search term, in characters: longer is refused, not cut short.
const MaxSearchLen = 200

// SearchQuery normalises a search term: spaces collapsed, storable text, at most
// MaxSearchLen characters. Accents and case are the store's concern (it folds both sides).
func SearchQuery(q string) (string, error) {
	if err := CheckStorable("q", q); err != nil {
		return "", err
	}
	q = strings.Join(strings.Fields(q), " ")
	if utf8.RuneCountInString(q) > MaxSearchLen {
		return "", Invalid("q", "err.search.too_long", "Max", MaxSearchLen)
	}
	return q, nil
}

// ValidFormat checks a format filter ("" means any).
func ValidFormat(f string) error {
	switch f {
	case "", FormatOnline, FormatInPerson:
		return nil
	}
	return Invalid("format", "err.format.unknown")
}
