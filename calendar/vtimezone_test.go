package calendar

import (
	"bytes"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/puente-org/puente/programme"
)

// Zones whose rules are ordinary, changed recently, have no DST, move by 30 minutes, go
// backwards (Dublin's negative DST), or change on days no simple rule gives (Casablanca).
var testZones = []string{
	"Europe/London", "America/Santiago", "America/Argentina/Buenos_Aires", "America/La_Paz",
	"America/Punta_Arenas", "America/Coyhaique", "Pacific/Easter", "America/Asuncion", "America/Sao_Paulo",
	"America/New_York", "America/Mexico_City", "Europe/Dublin", "Europe/Kyiv", "Africa/Cairo", "Asia/Tehran",
	"Africa/Casablanca", "Australia/Lord_Howe", "Pacific/Auckland", "Pacific/Chatham", "Asia/Kolkata", "UTC",
}

func vtimezoneModel(t *testing.T, zone string, lo, hi time.Time) (*tzModel, string) {
	t.Helper()
	cal := ics.NewCalendar()
	cal.Components = append(cal.Components, vtimezone(zone, mustLoc(t, zone), lo, hi))
	data := encode(cal, 0)
	lines := unfold(t, data)
	parsed, err := ics.ParseCalendar(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	m, err := newTZModel(parsed.Timezones()[0], hi.Year()+12)
	if err != nil {
		t.Fatal(err)
	}
	return m, strings.Join(lines, "\r\n") + "\r\n"
}

// TestVTimezoneMatchesGo reads each generated VTIMEZONE back (with golang-ical and rrule-go, no
// Go zone data) and checks that it gives Go's offset at every instant and Go's instant for every
// wall time, from 2015 to 2035 and ten years past it (where only the open rules apply): every six
// hours, and minute by minute around each change.
func TestVTimezoneMatchesGo(t *testing.T) {
	lo, hi := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)
	const step = 6 * time.Hour
	for _, zone := range testZones {
		t.Run(strings.ReplaceAll(zone, "/", "_"), func(t *testing.T) {
			t.Parallel()
			loc := mustLoc(t, zone)
			m, text := vtimezoneModel(t, zone, lo, hi)
			bad := 0
			checkAt := func(at time.Time) {
				if _, want := at.In(loc).Zone(); m.offsetAt(at) != want && bad < 5 {
					t.Errorf("%s at %s: offset %d, Go says %d", zone, at.Format(time.RFC3339), m.offsetAt(at), want)
					bad++
				}
			}
			checkWall := func(w time.Time) {
				if got, want := m.resolve(w), programme.ResolveLenient(loc, w); !got.Equal(want) && bad < 5 {
					t.Errorf("%s wall %s: %s, Go says %s", zone, w.Format(wallFormat), got.UTC(), want.UTC())
					bad++
				}
			}
			changes := 0
			for at := lo; at.Before(hi.AddDate(10, 0, 0)); at = at.Add(step) {
				checkAt(at)
				_, o1 := at.In(loc).Zone()
				if _, o2 := at.Add(step).In(loc).Zone(); o1 != o2 { // a change within: every minute of it
					changes++
					for x := at; x.Before(at.Add(step)); x = x.Add(time.Minute) {
						checkAt(x)
					}
					w := programme.WallIn(at, loc).Add(-2 * time.Hour)
					for x := w; x.Before(w.Add(step + 4*time.Hour)); x = x.Add(15 * time.Minute) {
						checkWall(x)
					}
				}
				checkWall(programme.WallIn(at, loc))
			}
			if bad > 0 {
				t.Log(text)
			}
			if hasDST := zone != "UTC" && zone != "Asia/Kolkata" && zone != "America/La_Paz" && zone != "America/Argentina/Buenos_Aires"; hasDST && changes == 0 {
				t.Errorf("%s: no change of offset seen", zone)
			}
		})
	}
}

// TestVTimezoneShape: the usual zones get the usual two open rules; zones without DST a single
// STANDARD; Chile's rule change of 2022 dated components, and its current rule stays open.
func TestVTimezoneShape(t *testing.T) {
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		zone   string
		from   time.Time
		want   []string // in order
		absent []string
	}{
		{"Europe/London", from, []string{"BEGIN:STANDARD", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "BEGIN:DAYLIGHT", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"}, []string{"UNTIL"}},
		{"America/New_York", from, []string{"BYMONTH=11;BYDAY=1SU", "BYMONTH=3;BYDAY=2SU"}, []string{"UNTIL"}},
		{"America/Santiago", from, []string{"TZOFFSETTO:-0300", "RRULE:FREQ=YEARLY;BYMONTH=9;BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8",
			"TZOFFSETTO:-0400", "RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8"}, []string{"UNTIL"}},
		// Since 2019: September changes fell on the Sunday in 5–11 September until 2022 (a week
		// late that year), then on the Sunday in 2–8 September; April's rule did not change.
		{"America/Santiago", time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC), []string{"DTSTART:20190407T000000",
			"RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8\r\n", "DTSTART:20190908T000000",
			"RRULE:FREQ=YEARLY;BYMONTH=9;BYDAY=SU;BYMONTHDAY=5,6,7,8,9,10,11;UNTIL=20220911T040000Z",
			"DTSTART:20230903T000000", "RRULE:FREQ=YEARLY;BYMONTH=9;BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8\r\n"}, nil},
		{"America/Argentina/Buenos_Aires", from, []string{"BEGIN:STANDARD\r\nDTSTART:20090315T000000\r\nTZOFFSETFROM:-0200\r\nTZOFFSETTO:-0300\r\nTZNAME:-03\r\nEND:STANDARD\r\nEND:VTIMEZONE"}, []string{"DAYLIGHT", "RRULE"}},
		{"America/La_Paz", from, []string{"TZOFFSETTO:-0400"}, []string{"DAYLIGHT", "RRULE"}},
		{"UTC", from, []string{"BEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0000\r\nTZOFFSETTO:+0000\r\nTZNAME:UTC\r\nEND:STANDARD"}, []string{"DAYLIGHT", "RRULE"}},
	}
	for _, tt := range tests {
		_, text := vtimezoneModel(t, tt.zone, tt.from, to)
		rest := text
		for _, w := range tt.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%s from %s: no %q (in order) in\n%s", tt.zone, tt.from.Format("2006"), w, text)
				break
			}
			rest = rest[i+len(w):]
		}
		for _, a := range tt.absent {
			if strings.Contains(text, a) {
				t.Errorf("%s: %q in\n%s", tt.zone, a, text)
			}
		}
		if n := strings.Count(text, "BEGIN:STANDARD") + strings.Count(text, "BEGIN:DAYLIGHT"); tt.zone != "America/Santiago" && n > 2 {
			t.Errorf("%s: %d observances", tt.zone, n)
		}
	}
}
