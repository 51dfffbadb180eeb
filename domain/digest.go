package domain

import "time"

// The weekly digest (an opt-in list, ListWeeklyDigest): on Monday at 08:00 in the member's
// zone, the talks of that week and the next in what they follow.
const (
	// DigestSendHour is the local hour on Monday from which the week's digest goes.
	DigestSendHour = 8
	// DigestWeeks is how many weeks a digest covers, from its Monday 00:00 local.
	DigestWeeks = 2
	// MaxDigestTalks bounds the talks one digest lists (the earliest ones).
	MaxDigestTalks = 100
)

// DigestWeek is one local week of a member's digest, reckoned in their zone.
type DigestWeek struct {
	// Monday is the week's Monday (a date: midnight UTC of that day), the key of the
	// digest: one per member and Monday.
	Monday time.Time
	// From and Until are the window of talks the digest lists: that Monday 00:00 local to
	// the Monday DigestWeeks later, 00:00 local (so across a change of clocks the window
	// is 335 or 337 hours long, not 336).
	From, Until time.Time
	// SendAt is Monday DigestSendHour:00 local; Cutoff the end of that Monday (Tuesday
	// 00:00 local). A digest not sent by the cut-off (the servers were down all Monday)
	// is skipped: the next one is a week later, not a stale one on Thursday.
	SendAt, Cutoff time.Time
	// DeliverBy is the end of that Tuesday (Wednesday 00:00 local): a digest the mail server
	// could not take by then is dropped rather than delivered late in the week.
	DeliverBy time.Time
}

// DigestWeekOf is the local week (Monday to Sunday) that now falls in, in loc.
func DigestWeekOf(now time.Time, loc *time.Location) DigestWeek {
	local := now.In(loc)
	back := (int(local.Weekday()) + 6) % 7 // days since Monday
	y, m, d := local.Date()
	d -= back
	return DigestWeek{
		Monday:    time.Date(y, m, d, 0, 0, 0, 0, time.UTC),
		From:      time.Date(y, m, d, 0, 0, 0, 0, loc),
		Until:     time.Date(y, m, d+7*DigestWeeks, 0, 0, 0, 0, loc),
		SendAt:    time.Date(y, m, d, DigestSendHour, 0, 0, 0, loc),
		Cutoff:    time.Date(y, m, d+1, 0, 0, 0, 0, loc),
		DeliverBy: time.Date(y, m, d+2, 0, 0, 0, 0, loc),
	}
}

// Due reports whether the week's digest should go at now: from Monday 08:00 local until
// the end of that Monday.
func (w DigestWeek) Due(now time.Time) bool {
	return !now.Before(w.SendAt) && now.Before(w.Cutoff)
}

// DigestZone is the zone a member's digest is reckoned and written in: their profile's,
// else UTC (a member who never told a zone nor used a browser that reported one).
func DigestZone(p Person) *time.Location {
	if p.Profile.TimeZone != "" {
		if loc, err := time.LoadLocation(p.Profile.TimeZone); err == nil {
			return loc
		}
	}
	return time.UTC
}

// NoticeTalk is one talk of a digest, read at delivery.
type NoticeTalk struct {
	Event      Event
	Occurrence Occurrence
	Registered bool // the member has an active registration for it
}
