package domain

import (
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// DirectoryEntry is how a person appears in the member directory, if they choose to: they
// opt in (Listed) and choose, field by field, what the entry shows (Visible). The name,
// affiliation, country and career stage are the profile's; the rest is the entry's own.
// An entry never shows an email address: other members write through the contact relay.
type DirectoryEntry struct {
	Listed     bool
	Visible    []DirectoryField
	Topics     []string
	LookingFor []LookingFor
	Bio        string
	ORCID      string // 0000-0002-1825-0097, or empty
	Website    string // an http(s) URL, or empty
}

// DirectoryField is one field a listed person may show.
type DirectoryField string

// The fields of a directory entry.
const (
	FieldName        DirectoryField = "name"
	FieldAffiliation DirectoryField = "affiliation"
	FieldCountry     DirectoryField = "country"
	FieldCareerStage DirectoryField = "career_stage"
	FieldTopics      DirectoryField = "topics"
	FieldLookingFor  DirectoryField = "looking_for"
	FieldBio         DirectoryField = "bio"
	FieldLinks       DirectoryField = "links"
)

// DirectoryFields lists the fields in the order forms show them.
func DirectoryFields() []DirectoryField {
	return []DirectoryField{FieldName, FieldAffiliation, FieldCountry, FieldCareerStage, FieldTopics,
		FieldLookingFor, FieldBio, FieldLinks}
}

// Shows reports whether the entry shows field f.
func (d DirectoryEntry) Shows(f DirectoryField) bool { return slices.Contains(d.Visible, f) }

// LookingFor is what a researcher is looking for in the network.
type LookingFor string

// The things a researcher may look for.
const (
	LookingCollaboration LookingFor = "collaboration"
	LookingExchange      LookingFor = "exchange_visit"
	LookingPhD           LookingFor = "phd_position"
	LookingPostdoc       LookingFor = "postdoc_position"
	LookingSupervision   LookingFor = "supervision"
)

// LookingFors lists them in the order forms show them.
func LookingFors() []LookingFor {
	return []LookingFor{LookingCollaboration, LookingExchange, LookingPhD, LookingPostdoc, LookingSupervision}
}

// Limits of a directory entry.
const (
	MaxTopics       = 10
	MaxTopicLen     = 60
	MaxBioLen       = 1000
	MaxWebsiteLen   = 300
	MaxContactLen   = 4000
	MaxContactTitle = 150
)

// Contact limits: the messages one member may send through the directory, counted in the
// database over the last hour and the last day.
const (
	ContactsPerHour = 5
	ContactsPerDay  = 20
	ContactHour     = time.Hour
	ContactDay      = 24 * time.Hour
)

// Normalize trims the entry's fields and checks every one, naming the field at fault
// ("directory.<field>", as the API nests it).
func (d DirectoryEntry) Normalize() (DirectoryEntry, error) {
	visible := []DirectoryField{}
	for _, f := range d.Visible {
		if !slices.Contains(DirectoryFields(), f) {
			return d, Invalid("directory.visible", "err.directory.field", "Field", Clip(string(f)))
		}
		if !slices.Contains(visible, f) {
			visible = append(visible, f)
		}
	}
	d.Visible = visible
	topics := []string{}
	for _, t := range d.Topics {
		t = strings.Join(strings.Fields(t), " ")
		if err := CheckStorable("directory.topics", t); err != nil {
			return d, err
		}
		if t == "" || slices.ContainsFunc(topics, func(s string) bool { return strings.EqualFold(s, t) }) {
			continue
		}
		if utf8.RuneCountInString(t) > MaxTopicLen {
			return d, Invalid("directory.topics", "err.directory.topic_too_long", "Max", MaxTopicLen)
		}
		topics = append(topics, t)
	}
	if len(topics) > MaxTopics {
		return d, Invalid("directory.topics", "err.directory.too_many_topics", "Max", MaxTopics)
	}
	d.Topics = topics
	looking := []LookingFor{}
	for _, l := range d.LookingFor {
		if !slices.Contains(LookingFors(), l) {
			return d, Invalid("directory.looking_for", "err.directory.looking_for", "Value", Clip(string(l)))
		}
		if !slices.Contains(looking, l) {
			looking = append(looking, l)
		}
	}
	d.LookingFor = looking
	var err error
	if d.Bio, err = Text("directory.bio", d.Bio, MaxBioLen, false); err != nil {
		return d, err
	}
	if d.ORCID, err = NormalizeORCID(d.ORCID); err != nil {
		return d, err
	}
	if d.Website, err = normalizeWebsite(d.Website); err != nil {
		return d, err
	}
	return d, nil
}

// NormalizeORCID checks an ORCID iD, given bare (0000-0002-1825-0097, with or without the
// hyphens) or as its URL (https://orcid.org/0000-0002-1825-0097), and returns it bare and
// hyphenated. The last character is a check digit (ISO 7064 MOD 11-2; "X" stands for 10),
// so a mistyped iD is refused.
func NormalizeORCID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	bad := Invalid("directory.orcid", "err.directory.orcid")
	for _, prefix := range []string{"https://orcid.org/", "http://orcid.org/", "orcid.org/"} {
		if len(s) > len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
			s = s[len(prefix):]
			break
		}
	}
	digits := strings.ToUpper(strings.ReplaceAll(s, "-", ""))
	if len(digits) != 16 || (len(s) != 16 && len(s) != 19) {
		return "", bad
	}
	if len(s) == 19 && (s[4] != '-' || s[9] != '-' || s[14] != '-') {
		return "", bad
	}
	total := 0
	for _, r := range digits[:15] {
		if r < '0' || r > '9' {
			return "", bad
		}
		total = (total + int(r-'0')) * 2
	}
	check := (12 - total%11) % 11
	want := byte('0' + check)
	if check == 10 {
		want = 'X'
	}
	if digits[15] != want {
		return "", bad
	}
	return digits[0:4] + "-" + digits[4:8] + "-" + digits[8:12] + "-" + digits[12:16], nil
}

// normalizeWebsite checks a personal web page: an absolute http or https URL.
func normalizeWebsite(s string) (string, error) {
	s, err := Text("directory.website", s, MaxWebsiteLen, false)
	if err != nil || s == "" {
		return s, err
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		strings.ContainsAny(s, " \t\r\n") {
		return s, Invalid("directory.website", "err.directory.website")
	}
	return s, nil
}

// DirectoryListing is one entry as another member sees it: only the fields its person
// chose to show are filled in (the store leaves the others empty), and never an address.
type DirectoryListing struct {
	PersonID    int64
	Name        string
	Affiliation string
	Country     string
	CareerStage CareerStage
	Topics      []string
	LookingFor  []LookingFor
	Bio         string
	ORCID       string
	Website     string
	// Contactable: they accept messages through the directory (they have not left its
	// mailing list, ListContact).
	Contactable bool
}

// DirectoryFilter is a search of the directory: words (in the shown name, affiliation,
// topics and bio) and filters, each matching only what an entry shows.
type DirectoryFilter struct {
	Query       string
	Country     string
	CareerStage CareerStage
	Topic       string
	LookingFor  LookingFor
	Limit       int
}

// Normalize checks the filter's values.
func (f DirectoryFilter) Normalize() (DirectoryFilter, error) {
	f.Query = strings.TrimSpace(f.Query)
	f.Topic = strings.TrimSpace(f.Topic)
	f.Country = strings.ToUpper(strings.TrimSpace(f.Country))
	if err := CheckStorable("q", f.Query); err != nil {
		return f, err
	}
	if err := CheckStorable("topic", f.Topic); err != nil {
		return f, err
	}
	if utf8.RuneCountInString(f.Query) > 200 || utf8.RuneCountInString(f.Topic) > MaxTopicLen {
		return f, Invalid("q", "err.text.too_long", "Max", 200)
	}
	if f.Country != "" && !IsCountry(f.Country) {
		return f, Invalid("country", "err.profile.country")
	}
	if !f.CareerStage.Valid() {
		return f, Invalid("career_stage", "err.profile.career_stage")
	}
	if f.LookingFor != "" && !slices.Contains(LookingFors(), f.LookingFor) {
		return f, Invalid("looking_for", "err.directory.looking_for", "Value", Clip(string(f.LookingFor)))
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 200
	}
	return f, nil
}

// ContactMessage is a message one member writes to another through the directory.
type ContactMessage struct {
	Subject string
	Body    string
}

// Normalize checks the message.
func (m ContactMessage) Normalize() (ContactMessage, error) {
	var err error
	if m.Subject, err = Text("subject", strings.Join(strings.Fields(m.Subject), " "), MaxContactTitle, true); err != nil {
		return m, err
	}
	if m.Body, err = Text("body", m.Body, MaxContactLen, true); err != nil {
		return m, err
	}
	return m, nil
}
