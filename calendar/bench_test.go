package calendar

import (
	"strconv"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/programme"
)

var benchZones = []string{"Europe/London", "America/Santiago", "America/Argentina/Buenos_Aires", "America/La_Paz", "America/Mexico_City"}

// benchProgramme is 50 weekly series over 2026 in five zones, each with a moved, a cancelled and
// a retitled occurrence with speakers.
func benchProgramme(b *testing.B) []EventData {
	b.Helper()
	var ds []EventData
	for i := 0; i < 50; i++ {
		zone := benchZones[i%len(benchZones)]
		day := wall(2026, 1, 5+i%5, 0, 0) // Monday to Friday
		rrule, err := programme.CanonicalRRule("FREQ=WEEKLY;UNTIL=20261231", zone)
		if err != nil {
			b.Fatal(err)
		}
		e := domain.Event{ID: int64(i + 1), Kind: domain.KindSeries, Slug: "series-" + strconv.Itoa(i), Title: "Series " + strconv.Itoa(i),
			Description: "A weekly seminar on **lithium**, batteries and policy; everyone welcome. Series " + strconv.Itoa(i) + ".", TimeZone: zone,
			StartDate: day, StartTime: "14:00", Duration: time.Hour, RRule: rrule, Sequence: 3, UpdatedAt: testCreated,
			Venue: domain.Venue{Name: "Main hall", Address: "Somewhere 123"}}
		occs := generate(b, e, int64(1000*(i+1)), wall(2026, 1, 1, 0, 0), wall(2027, 1, 1, 0, 0))
		move(b, e, &occs[5], occs[5].StartLocal.Add(2*time.Hour), testEdited)
		cancel(&occs[12], "Holiday.", testEdited)
		occs[20].Title = "A talk with a title of its own"
		occs[20].Abstract = "An abstract with *emphasis* and a [link](https://example.org)."
		occs[20].Speakers = []domain.Speaker{{Name: "Ana Pérez", Affiliation: "CONICET"}, {Name: "John Smith"}}
		occs[20].Sequence++
		ds = append(ds, EventData{Event: e, Occurrences: occs})
	}
	return ds
}

func BenchmarkProgrammeFeed(b *testing.B) {
	ds := benchProgramme(b)
	o := testOptions("/programme.ics")
	var size int
	b.ReportAllocs()
	for b.Loop() {
		out, err := ProgrammeFeed(ds, o)
		if err != nil {
			b.Fatal(err)
		}
		size = len(out)
	}
	b.ReportMetric(float64(size), "feed-bytes")
}

func BenchmarkFingerprint(b *testing.B) {
	ds := benchProgramme(b)
	o := testOptions("/programme.ics")
	b.ReportAllocs()
	for b.Loop() {
		if Fingerprint(ds, o) == "" {
			b.Fatal("empty fingerprint")
		}
	}
}
