package domain

import "time"

// NoticeKind is what happened, as the email telling a person says it. The outbox keeps it
// as text; the notices package renders each kind at delivery.
type NoticeKind string

// The kinds of notice.
const (
	NoticeConfirmed          NoticeKind = "confirmed"            // registered, with a place
	NoticeWaitlisted         NoticeKind = "waitlisted"           // registered, on the waitlist
	NoticePending            NoticeKind = "pending"              // registered, awaiting approval
	NoticeHeld               NoticeKind = "held"                 // registered by email: a place held until the address is confirmed
	NoticeApproved           NoticeKind = "approved"             // an organiser approved: a place
	NoticePromoted           NoticeKind = "promoted"             // a place freed up and is theirs
	NoticeDeclined           NoticeKind = "declined"             // an organiser declined
	NoticeRemovedByOrganiser NoticeKind = "removed_by_organiser" // an organiser cancelled their registration
	NoticeMoved              NoticeKind = "moved"                // the session has a new time
	NoticeCancelled          NoticeKind = "cancelled"            // the session was cancelled
	NoticeRemoved            NoticeKind = "removed"              // the series no longer has the session
	NoticeReminder           NoticeKind = "reminder"             // the session is coming up
	NoticeMessage            NoticeKind = "message"              // the organisers wrote to registrants
	NoticeEventRegistration  NoticeKind = "event_registration"   // registered for a whole series or conference
	NoticeSpeakerAdded       NoticeKind = "speaker_added"        // the organisers added them as a speaker
	// Community (list) notices: each is sent with its List (see MailList).
	NoticeFollowUpdates NoticeKind = "follow_updates" // the daily batch of news from what they follow
	NoticeAnnouncement  NoticeKind = "announcement"   // an organiser's announcement to a list
	NoticeWeeklyDigest  NoticeKind = "weekly_digest"  // the Monday digest
	NoticeContact       NoticeKind = "contact"        // a member wrote through the directory
)

// Valid reports whether k is one of the kinds above.
func (k NoticeKind) Valid() bool {
	switch k {
	case NoticeConfirmed, NoticeWaitlisted, NoticePending, NoticeApproved, NoticePromoted, NoticeDeclined,
		NoticeRemovedByOrganiser, NoticeMoved, NoticeCancelled, NoticeRemoved, NoticeReminder, NoticeMessage,
		NoticeEventRegistration, NoticeHeld, NoticeSpeakerAdded,
		NoticeFollowUpdates, NoticeAnnouncement, NoticeWeeklyDigest, NoticeContact:
		return true
	}
	return false
}

// Notice is a typed outbox row: what happened, to whom, about what. It is rendered when it
// is delivered, from the current person, registration, occurrence and event, so the email
// speaks the recipient's language and zone as they are then.
type Notice struct {
	Kind           NoticeKind
	PersonID       int64
	RegistrationID int64 // 0 for a whole-event registration
	OccurrenceID   int64 // 0 for a whole-event registration
	EventID        int64
	Payload        NoticePayload
	// List is the mailing list the notice belongs to ("" for a transactional email): it
	// is not written for a person who left that list, nor delivered if they leave it
	// before delivery, and its email carries the list headers and an unsubscribe link.
	List MailList
}

// NoticePayload is what must be frozen when the notice is written.
type NoticePayload struct {
	// Subject and Body: an organiser's message, as written.
	Subject string `json:"subject,omitempty"`
	Body    string `json:"body,omitempty"`
	// PreviousStart: a moved session's start before the move.
	PreviousStart *time.Time `json:"previous_start,omitempty"`
	// CancelReason: why the session was cancelled, as said then.
	CancelReason string `json:"cancel_reason,omitempty"`
	// Occurrence: a removed session as it was (its row is gone by delivery).
	Occurrence *Occurrence `json:"occurrence,omitempty"`
	// Lang: the language of the page the recipient acted from, when they caused the notice
	// themselves; used when their profile names none.
	Lang string `json:"lang,omitempty"`
	// SpeakerEmail: a speaker added by address, who may have no account yet (PersonID 0).
	SpeakerEmail string `json:"speaker_email,omitempty"`
	// SignInURL: a one-time sign-in link (registration by email). A secret: the row is
	// sensitive and the link is dropped once delivered.
	SignInURL string `json:"sign_in_url,omitempty"`
	// SenderID: the member who wrote a directory message (NoticeContact); read at
	// delivery, so a sender who deleted their account is not relayed.
	SenderID int64 `json:"sender_id,omitempty"`
	// News: a follow-updates notice's talks, each once.
	News []FollowNews `json:"news,omitempty"`
	// Digest: the window of talks of a weekly digest, reckoned in the member's zone when
	// it was queued (the talks themselves are read at delivery).
	Digest *DigestWindow `json:"digest,omitempty"`
}

// DigestWindow is the span of talks a weekly digest lists: [From, Until).
type DigestWindow struct {
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
}

// NoticePlace is a registration as a notice needs it.
type NoticePlace struct {
	ID        int64
	Status    RegistrationStatus
	Position  int   // on the waitlist
	LinkNonce int64 // the current one: links in the email are the ones that work now
}

// NoticeSession is one session of a whole-event registration.
type NoticeSession struct {
	Place      NoticePlace
	Occurrence Occurrence
}

// NoticeFacts is what a notice is about, read when it is delivered.
type NoticeFacts struct {
	Person Person
	Event  Event
	// Occurrence is zero when the notice is about a whole event or the session is gone.
	Occurrence Occurrence
	Place      NoticePlace
	// Sessions: a whole-event registration's upcoming sessions.
	Sessions []NoticeSession
	// Sender: who wrote a directory message (NoticeContact).
	Sender Person
	// News: a follow-updates notice's talks as they are now (cancelled and removed ones
	// left out).
	News []FollowNewsFact
	// Talks: a weekly digest's talks, in start order.
	Talks []NoticeTalk
}

// UnconfirmedHold is how long a registration made by email (without signing in) holds its
// place before the owner of the address must have confirmed it.
const UnconfirmedHold = 30 * time.Minute
