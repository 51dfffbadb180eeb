package domain

import (
	"net/mail"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones come from the binary, not the host's (often stale) tzdata
	"unicode/utf8"

	"github.com/puente-org/puente/frontend/locales"
)

// Person is anyone with an account: attendee, speaker, organiser or site admin.
type Person struct {
	ID          int64
	Email       string
	Profile     Profile
	IsAdmin     bool // site admin: manages people and roles
	IsOrganiser bool // may create seminar series and conferences
	CreatedAt   time.Time
}

// DisplayName is the person's name, or their email address when they have not given one.
func (p Person) DisplayName() string {
	if p.Profile.Name != "" {
		return p.Profile.Name
	}
	return p.Email
}

// Profile is what a person says about themselves.
type Profile struct {
	Name        string
	Affiliation string
	Country     string // ISO 3166-1 alpha-2, or empty
	CareerStage CareerStage
	Language    string // preferred language (one of Languages), or empty for "from the browser"
	TimeZone    string // IANA zone, or empty for "from the browser"
	// WeeklyDigest: they asked for the Monday digest of what they follow (ListWeeklyDigest).
	WeeklyDigest bool
}

// CareerStage is one of the stages the research community uses to describe itself.
type CareerStage string

const (
	CareerUnset    CareerStage = ""
	CareerStudent  CareerStage = "student"
	CareerEarly    CareerStage = "early_career"
	CareerSenior   CareerStage = "senior"
	CareerIndustry CareerStage = "industry"
	CareerOther    CareerStage = "other"
)

// CareerStages lists the stages in the order forms show them.
func CareerStages() []CareerStage {
	return []CareerStage{CareerStudent, CareerEarly, CareerSenior, CareerIndustry, CareerOther}
}

// Languages are the interface languages Puente speaks, default first: one per translation
// catalogue (frontend/locales), so adding a catalogue adds a language.
func Languages() []string { return locales.Languages() }

// IsLanguage reports whether Puente speaks lang.
func IsLanguage(lang string) bool { return slices.Contains(Languages(), lang) }

// Field length limits, shared by validation and forms.
const (
	MaxEmailLen     = 254
	MaxNameLen      = 200
	MaxTokenNameLen = 100
)

// NormalizeEmail checks that s is one plain email address and returns it trimmed, with the
// domain in lower case (the local part is kept: some servers treat it case-sensitively; the
// database compares addresses case-insensitively).
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !Storable(s) {
		return "", Invalid("email", "err.email.invalid")
	}
	if s == "" {
		return "", Invalid("email", "err.email.empty")
	}
	if len(s) > MaxEmailLen {
		return "", Invalid("email", "err.email.too_long")
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "", Invalid("email", "err.email.invalid")
	}
	at := strings.LastIndexByte(s, '@')
	domain := strings.ToLower(s[at+1:])
	if !strings.Contains(domain, ".") && domain != "localhost" {
		return "", Invalid("email", "err.email.invalid")
	}
	return s[:at+1] + domain, nil
}

// Normalize trims the profile's fields and checks every one, returning the first problem.
func (p Profile) Normalize() (Profile, error) {
	p.Name = strings.TrimSpace(p.Name)
	p.Affiliation = strings.TrimSpace(p.Affiliation)
	p.Country = strings.ToUpper(strings.TrimSpace(p.Country))
	p.TimeZone = strings.TrimSpace(p.TimeZone)
	p.Language = strings.TrimSpace(p.Language)
	switch {
	case !Storable(p.Name):
		return p, CheckStorable("name", p.Name)
	case !Storable(p.Affiliation):
		return p, CheckStorable("affiliation", p.Affiliation)
	case utf8.RuneCountInString(p.Name) > MaxNameLen:
		return p, Invalid("name", "err.profile.name_too_long")
	case utf8.RuneCountInString(p.Affiliation) > MaxNameLen:
		return p, Invalid("affiliation", "err.profile.affiliation_too_long")
	case p.Country != "" && !IsCountry(p.Country):
		return p, Invalid("country", "err.profile.country")
	case !p.CareerStage.Valid():
		return p, Invalid("career_stage", "err.profile.career_stage")
	case p.Language != "" && !IsLanguage(p.Language):
		return p, Invalid("language", "err.profile.language")
	}
	if p.TimeZone != "" {
		if err := ValidTimeZone(p.TimeZone); err != nil {
			return p, err
		}
	}
	return p, nil
}

// Valid reports whether c is a known stage or unset.
func (c CareerStage) Valid() bool {
	if c == CareerUnset {
		return true
	}
	for _, s := range CareerStages() {
		if s == c {
			return true
		}
	}
	return false
}

// ValidTimeZone checks that name is an IANA time zone such as America/Santiago.
func ValidTimeZone(name string) error {
	// "Local" and "" are accepted by time.LoadLocation but mean the server's zone.
	if name == "" || name == "Local" || len(name) > 64 {
		return Invalid("time_zone", "err.timezone.empty")
	}
	if !geographicZone(name) {
		return Invalid("time_zone", "err.timezone.unknown", "Zone", Clip(name))
	}
	if _, err := time.LoadLocation(name); err != nil {
		return Invalid("time_zone", "err.timezone.unknown", "Zone", Clip(name))
	}
	return nil
}

// geographicZone reports whether name is spelled like a zone of the IANA database people
// live in: "UTC", or Area/Location with a continent or ocean as the area. The database also
// holds files such as "Factory" (a zone whose abbreviation is "-00"), "posixrules" and
// "localtime", and legacy names ("EST5EDT", "SystemV/…"); time.LoadLocation accepts them
// all, but none is a place, so they are refused.
func geographicZone(name string) bool {
	if name == "UTC" || name == "Etc/UTC" {
		return true
	}
	area, rest, ok := strings.Cut(name, "/")
	if !ok || rest == "" {
		return false
	}
	switch area {
	case "Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific":
	default:
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '/' || r == '_' || r == '-' || r == '+') {
			return false
		}
	}
	return !strings.Contains(name, "..")
}

// CommonTimeZones are offered first when a person picks a zone: the community's own
// (UK, Chile, Argentina, Bolivia, Brazil) and a few others. Any IANA zone is accepted.
func CommonTimeZones() []string {
	return []string{
		"Europe/London", "America/Santiago", "America/Punta_Arenas", "Pacific/Easter",
		"America/Argentina/Buenos_Aires", "America/La_Paz", "America/Sao_Paulo", "America/Manaus",
		"America/Lima", "America/Bogota", "America/Mexico_City", "America/New_York",
		"America/Los_Angeles", "Europe/Madrid", "Europe/Paris", "Europe/Berlin", "Africa/Johannesburg",
		"Asia/Kolkata", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney", "UTC",
	}
}
