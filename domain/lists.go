package domain

import (
	"strconv"
	"strings"
	"time"
)

// MailList is a mailing list a notice belongs to: list email carries List-Id and one-click
// List-Unsubscribe headers, a visible unsubscribe link, and is not written for a person
// who left the list. Transactional email (a registration's confirmation, a sign-in link)
// belongs to no list ("").
type MailList string

// The lists.
const (
	// ListFollowUpdates: the daily batch telling followers of series, conferences and
	// topics of new talks and speaker announcements.
	ListFollowUpdates MailList = "follow-updates"
	// ListWeeklyDigest: the Monday digest of the next two weeks' talks (opt-in).
	ListWeeklyDigest MailList = "weekly-digest"
	// ListContact: messages other members send through the directory.
	ListContact MailList = "directory-contact"
)

// listAnnouncementsPrefix starts the list of one series' or conference's announcements.
const listAnnouncementsPrefix = "announcements-"

// ListAnnouncements is the announcement list of one series or conference (its followers
// and registrants).
func ListAnnouncements(eventID int64) MailList {
	return MailList(listAnnouncementsPrefix + strconv.FormatInt(eventID, 10))
}

// AnnouncementsEvent is the series or conference whose announcement list l is (0, false
// for another list).
func (l MailList) AnnouncementsEvent() (int64, bool) {
	s, ok := strings.CutPrefix(string(l), listAnnouncementsPrefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// Valid reports whether l is one of the lists above.
func (l MailList) Valid() bool {
	switch l {
	case ListFollowUpdates, ListWeeklyDigest, ListContact:
		return true
	}
	_, ok := l.AnnouncementsEvent()
	return ok
}

// ListTokenLife is how long an unsubscribe link works (RFC 8058 asks for a long time:
// people unsubscribe from old mail). After it, the link's page offers the preferences page.
const ListTokenLife = 180 * 24 * time.Hour

// PrefixListToken starts an unsubscribe link's token.
const PrefixListToken = "plu_"

// ListState is whether list mail may go to a person: they may have left the list, or
// their address may have bounced or complained.
type ListState struct {
	Left       bool
	Suppressed bool
}
