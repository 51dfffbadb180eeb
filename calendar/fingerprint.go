package calendar

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"runtime"
	"time"
)

// fingerprintVersion changes whenever this package changes what it writes for the same inputs.
const fingerprintVersion = "puente-calendar-1"

// Fingerprint is a SHA-256 of everything that changes a public feed built from ds with o, except
// DTSTAMP: the events' IDs, kinds, Sequence and UpdatedAt; the occurrences' IDs, Sequence,
// UpdatedAt, Status and end (trimming compares it with Now); the options (Host, BaseURL, Name,
// FeedURL, KeepPast, Refresh, Labels); Now's UTC date (trimming goes by day); and the Go version, which
// brings the embedded tz data the VTIMEZONEs come from. The store bumps Sequence and UpdatedAt on
// every edit, so an HTTP handler can answer If-None-Match with 304 without building the feed.
// Two feeds with the same fingerprint differ at most in DTSTAMP, so a weak ETag (W/"…") is the
// exact HTTP reading. For PersonalFeed, pass the items' events and occurrences; join links are
// not covered.
func Fingerprint(ds []EventData, o Options) string {
	o = o.normalised()
	h := sha256.New()
	b := make([]byte, 0, 4096) // hashed in blocks: one Write per occurrence costs twice the time
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	flush := func() {
		if len(b) > 3900 {
			h.Write(b)
			b = b[:0]
		}
	}
	str(fingerprintVersion)
	str(runtime.Version())
	str(o.Host)
	str(o.BaseURL)
	str(o.Name)
	str(o.FeedURL)
	l := o.Labels
	for _, x := range []string{l.Cancelled, l.Speaker, l.Speakers, l.Join, l.JoinOnline, l.MyFeed} {
		str(x)
	}
	b = binary.AppendVarint(b, int64(o.KeepPast))
	b = binary.AppendVarint(b, int64(o.Refresh))
	b = binary.AppendVarint(b, o.cutoff().Unix())
	b = binary.AppendUvarint(b, uint64(len(ds)))
	for i := range ds {
		e := &ds[i].Event
		flush()
		b = binary.AppendVarint(b, e.ID)
		str(string(e.Kind))
		b = binary.AppendVarint(b, int64(e.Sequence))
		b = appendTime(b, e.UpdatedAt)
		b = binary.AppendUvarint(b, uint64(len(ds[i].Occurrences)))
		for j := range ds[i].Occurrences {
			occ := &ds[i].Occurrences[j]
			flush()
			b = binary.AppendVarint(b, occ.ID)
			b = binary.AppendVarint(b, int64(occ.Sequence))
			b = appendTime(b, occ.UpdatedAt)
			b = appendTime(b, occ.End)
			str(occ.Status)
		}
	}
	h.Write(b)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

// LastModified is the newest UpdatedAt of the events and occurrences (for Last-Modified).
func LastModified(ds []EventData) time.Time {
	var last time.Time
	for i := range ds {
		if t := ds[i].Event.UpdatedAt; t.After(last) {
			last = t
		}
		for j := range ds[i].Occurrences {
			if t := ds[i].Occurrences[j].UpdatedAt; t.After(last) {
				last = t
			}
		}
	}
	return last.UTC()
}
