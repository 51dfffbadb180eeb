package domain

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Audience is who an announcement goes to.
type Audience string

// The audiences: the people who follow the series or conference (not those who follow one
// of its topics), its registrants (of any of its sessions, or of the whole event; or of
// one session when the announcement names it), or both. Each person receives it once.
const (
	AudienceFollowers   Audience = "followers"
	AudienceRegistrants Audience = "registrants"
	AudienceBoth        Audience = "both"
)

// Valid reports whether a is one of the audiences.
func (a Audience) Valid() bool {
	return a == AudienceFollowers || a == AudienceRegistrants || a == AudienceBoth
}

// Registrants reports whether the audience includes registrants.
func (a Audience) Registrants() bool { return a == AudienceRegistrants || a == AudienceBoth }

// Followers reports whether the audience includes followers.
func (a Audience) Followers() bool { return a == AudienceFollowers || a == AudienceBoth }

// Announcement statuses.
const (
	AnnouncementScheduled = "scheduled"
	AnnouncementSent      = "sent"
	AnnouncementCancelled = "cancelled"
)

// Limits of an announcement, in characters.
const (
	MaxAnnouncementSubject = 200
	MaxAnnouncementBody    = 20000
)

// Announcement is what an event's organisers write to its list: Markdown, sent now or at
// SendAt.
type Announcement struct {
	ID           int64
	EventID      int64
	OccurrenceID int64 // the one session whose registrants it is for; 0 for the whole event
	AuthorID     int64
	Subject      string
	Body         string // Markdown
	Audience     Audience
	Status       string
	SendAt       *time.Time // when a scheduled one goes
	SentAt       *time.Time
	Recipients   int // how many it went to, once sent
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Normalize checks what an organiser wrote, naming the field at fault: a subject on one
// line, a body, a known audience, a session only for an audience of registrants, and a
// sending time (if any) after now.
func (a Announcement) Normalize(now time.Time) (Announcement, error) {
	var err error
	a.Subject = strings.Join(strings.Fields(a.Subject), " ")
	if a.Subject, err = Text("subject", a.Subject, MaxAnnouncementSubject, true); err != nil {
		return a, err
	}
	if err := CheckStorable("body", a.Body); err != nil {
		return a, err
	}
	a.Body = strings.TrimSpace(a.Body)
	if a.Body == "" {
		return a, Invalid("body", "err.announce.body_empty")
	}
	if utf8.RuneCountInString(a.Body) > MaxAnnouncementBody {
		return a, Invalid("body", "err.announce.body_too_long", "Max", MaxAnnouncementBody)
	}
	if !a.Audience.Valid() {
		return a, Invalid("audience", "err.announce.audience", "Audience", Clip(string(a.Audience)))
	}
	if a.OccurrenceID != 0 && !a.Audience.Registrants() {
		return a, Invalid("occurrence_id", "err.announce.session_followers")
	}
	if a.SendAt != nil && !a.SendAt.After(now) {
		return a, Invalid("send_at", "err.announce.send_at_past")
	}
	return a, nil
}

// AnnouncementRepeatWindow is how long the same announcement (same subject, body and
// audience) is refused again for the same event: a double click or a client's retry must
// not send it twice.
const AnnouncementRepeatWindow = 10 * time.Minute
