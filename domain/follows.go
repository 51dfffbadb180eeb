package domain

import (
	"strings"
	"time"
	"unicode/utf8"
)

// FollowUpdatesEvery is how often at most a person is sent the news of what they follow:
// one email a day, never one per edit.
const FollowUpdatesEvery = 24 * time.Hour

// NormalizeTopic is a topic tag as people follow it: spaces collapsed and lower-case, as
// events' tags are matched (see NormalizeTags). A blank, too long or unstorable tag is
// refused.
func NormalizeTopic(tag string) (string, error) {
	if err := CheckStorable("tag", tag); err != nil {
		return "", Invalid("tag", "err.follow.tag")
	}
	t := strings.ToLower(strings.Join(strings.Fields(tag), " "))
	if t == "" || utf8.RuneCountInString(t) > 40 {
		return "", Invalid("tag", "err.follow.tag")
	}
	return t, nil
}

// FollowNews is one item of a follow-updates notice, frozen when the batch is made: a
// talk new to the reader, or one whose speakers were announced.
type FollowNews struct {
	OccurrenceID int64 `json:"occurrence_id"`
	// Speakers: only its speakers are news (the talk itself was announced before).
	Speakers bool `json:"speakers,omitempty"`
}

// FollowNewsFact is a news item as read at delivery.
type FollowNewsFact struct {
	Event      Event
	Occurrence Occurrence
	Speakers   bool
}
