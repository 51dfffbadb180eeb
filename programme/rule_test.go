package programme

import (
	"strings"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
)

// wall makes a wall time (a local clock reading, carried in time.UTC).
func wall(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, time.UTC)
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// thursdaySeminar is the series of calendar.md: Thursdays 15:00 London, 8 Jan – 31 Dec 2026.
func thursdaySeminar() Rule {
	return Rule{
		Zone:     "Europe/London",
		Start:    wall(2026, 1, 8, 15, 0),
		Duration: time.Hour,
		RRule:    "FREQ=WEEKLY;BYDAY=TH;UNTIL=20261231T235959Z",
	}
}

func expandAll(t *testing.T, r Rule) []Instance {
	t.Helper()
	got, err := r.Expand(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	if err != nil {
		t.Fatalf("Expand: %v", err)
	}
	return got
}

func walls(insts []Instance) []string {
	out := make([]string, len(insts))
	for i, in := range insts {
		out[i] = in.Wall.Format("2006-01-02 15:04")
	}
	return out
}

// TestCalendarTable checks every band of the table in docs/calendar.md.
func TestCalendarTable(t *testing.T) {
	r := thursdaySeminar()
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	insts := expandAll(t, r)
	if len(insts) != 52 {
		t.Fatalf("got %d meetings, want 52 (every Thursday from 8 Jan to 31 Dec 2026)", len(insts))
	}
	byDate := map[string]Instance{}
	for _, in := range insts {
		byDate[in.Wall.Format("2006-01-02")] = in
		if got := in.Start.In(mustLoc(t, "Europe/London")).Format("15:04 Mon"); got != "15:00 Thu" {
			t.Errorf("%s: London reads %s, want 15:00 Thu", in.Wall, got)
		}
		if in.End.Sub(in.Start) != time.Hour {
			t.Errorf("%s: lasts %v, want 1h", in.Wall, in.End.Sub(in.Start))
		}
		if in.Start.Location().String() != "Europe/London" {
			t.Errorf("%s: Start is in %s, want Europe/London", in.Wall, in.Start.Location())
		}
	}
	zones := []string{"UTC", "Europe/London", "America/Santiago", "America/Argentina/Buenos_Aires", "America/La_Paz"}
	tests := []struct {
		date string
		want [5]string // UTC, London, Santiago, Buenos Aires, La Paz
	}{
		{"2026-01-08", [5]string{"15:00", "15:00", "12:00", "12:00", "11:00"}},
		{"2026-03-26", [5]string{"15:00", "15:00", "12:00", "12:00", "11:00"}},
		{"2026-04-02", [5]string{"14:00", "15:00", "11:00", "11:00", "10:00"}},
		{"2026-04-09", [5]string{"14:00", "15:00", "10:00", "11:00", "10:00"}},
		{"2026-09-03", [5]string{"14:00", "15:00", "10:00", "11:00", "10:00"}},
		{"2026-09-10", [5]string{"14:00", "15:00", "11:00", "11:00", "10:00"}},
		{"2026-10-22", [5]string{"14:00", "15:00", "11:00", "11:00", "10:00"}},
		{"2026-10-29", [5]string{"15:00", "15:00", "12:00", "12:00", "11:00"}},
		{"2026-12-31", [5]string{"15:00", "15:00", "12:00", "12:00", "11:00"}},
	}
	for _, tt := range tests {
		in, ok := byDate[tt.date]
		if !ok {
			t.Errorf("no meeting on %s", tt.date)
			continue
		}
		for i, z := range zones {
			if got := in.Start.In(mustLoc(t, z)).Format("15:04"); got != tt.want[i] {
				t.Errorf("%s in %s: got %s, want %s", tt.date, z, got, tt.want[i])
			}
		}
	}
	// Start carries the right offset for display.
	if got := byDate["2026-04-02"].Start.Format("15:04 MST -0700"); got != "15:00 BST +0100" {
		t.Errorf("2 Apr formats as %q", got)
	}
	if got := byDate["2026-03-26"].Start.Format("15:04 MST -0700"); got != "15:00 GMT +0000" {
		t.Errorf("26 Mar formats as %q", got)
	}
}

func TestExpandEnds(t *testing.T) {
	london := func(rrule string) Rule {
		return Rule{Zone: "Europe/London", Start: wall(2026, 1, 8, 15, 0), Duration: time.Hour, RRule: rrule}
	}
	santiago := func(rrule string) Rule {
		return Rule{Zone: "America/Santiago", Start: wall(2026, 1, 8, 12, 0), Duration: time.Hour, RRule: rrule}
	}
	tests := []struct {
		name      string
		rule      Rule
		wantN     int
		wantLast  string
		wantFirst string
	}{
		// 2 Apr 15:00 BST is 14:00Z: the last meeting is kept exactly...
		{"until = last meeting after spring forward", london("FREQ=WEEKLY;BYDAY=TH;UNTIL=20260402T140000Z"), 13, "2026-04-02 15:00", "2026-01-08 15:00"},
		// ...and one second earlier drops it.
		{"until one second before it", london("FREQ=WEEKLY;BYDAY=TH;UNTIL=20260402T135959Z"), 12, "2026-03-26 15:00", ""},
		{"until = last GMT meeting before the change", london("FREQ=WEEKLY;BYDAY=TH;UNTIL=20260326T150000Z"), 12, "2026-03-26 15:00", ""},
		{"until = last BST meeting before fall back", london("FREQ=WEEKLY;BYDAY=TH;UNTIL=20261022T140000Z"), 42, "2026-10-22 15:00", ""},
		// 29 Oct 15:00 GMT is 15:00Z.
		{"until = first meeting after fall back", london("FREQ=WEEKLY;BYDAY=TH;UNTIL=20261029T150000Z"), 43, "2026-10-29 15:00", ""},
		{"until just before it", london("FREQ=WEEKLY;BYDAY=TH;UNTIL=20261029T145959Z"), 42, "2026-10-22 15:00", ""},
		{"until as a date = end of that local day", london("FREQ=WEEKLY;BYDAY=TH;UNTIL=20260402"), 13, "2026-04-02 15:00", ""},
		// Santiago on -04 from 5 Apr: 9 Apr 12:00 is 16:00Z.
		{"santiago until = meeting in -04", santiago("FREQ=WEEKLY;BYDAY=TH;UNTIL=20260409T160000Z"), 14, "2026-04-09 12:00", ""},
		{"santiago until before it is not added", santiago("FREQ=WEEKLY;BYDAY=TH;UNTIL=20260409T155959Z"), 13, "2026-04-02 12:00", ""},
		{"count", london("FREQ=WEEKLY;BYDAY=TH;COUNT=10"), 10, "2026-03-12 15:00", "2026-01-08 15:00"},
		{"single event", london(""), 1, "2026-01-08 15:00", "2026-01-08 15:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.rule.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got := walls(expandAll(t, tt.rule))
			if len(got) != tt.wantN {
				t.Fatalf("got %d meetings %v, want %d", len(got), got, tt.wantN)
			}
			if got[len(got)-1] != tt.wantLast {
				t.Errorf("last = %s, want %s", got[len(got)-1], tt.wantLast)
			}
			if tt.wantFirst != "" && got[0] != tt.wantFirst {
				t.Errorf("first = %s, want %s", got[0], tt.wantFirst)
			}
		})
	}
}

func TestExpandRDateExDate(t *testing.T) {
	r := thursdaySeminar()
	r.RRule = "FREQ=WEEKLY;BYDAY=TH;COUNT=6" // 8 Jan .. 12 Feb
	r.ExDates = []time.Time{wall(2026, 1, 22, 15, 0)}
	r.RDates = []time.Time{wall(2026, 1, 28, 10, 30), wall(2026, 3, 3, 15, 0), wall(2026, 1, 8, 15, 0)} // the last one duplicates a meeting
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	got := strings.Join(walls(expandAll(t, r)), ", ")
	want := "2026-01-08 15:00, 2026-01-15 15:00, 2026-01-28 10:30, 2026-01-29 15:00, 2026-02-05 15:00, 2026-02-12 15:00, 2026-03-03 15:00"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// An EXDATE can remove an RDATE too.
	r.ExDates = append(r.ExDates, wall(2026, 3, 3, 15, 0))
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if n := len(expandAll(t, r)); n != 6 {
		t.Errorf("got %d meetings, want 6", n)
	}
}

func TestExpandWindowAndLimit(t *testing.T) {
	r := thursdaySeminar()
	lon := mustLoc(t, "Europe/London")
	// [from, to) on instants: 2 Apr 14:00Z is included at from, excluded at to.
	from := time.Date(2026, 4, 2, 14, 0, 0, 0, time.UTC)
	to := time.Date(2026, 4, 16, 14, 0, 0, 0, time.UTC)
	got, err := r.Expand(from, to, 0)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(walls(got), ", "); w != "2026-04-02 15:00, 2026-04-09 15:00" {
		t.Errorf("window: got %s", w)
	}
	got, err = r.Expand(from.In(lon), to.AddDate(1, 0, 0), 3)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(walls(got), ", "); w != "2026-04-02 15:00, 2026-04-09 15:00, 2026-04-16 15:00" {
		t.Errorf("limit: got %s", w)
	}
	// An RDATE earlier than the rule's meetings still comes first under a limit.
	r.RDates = []time.Time{wall(2026, 4, 3, 9, 0)}
	got, err = r.Expand(time.Date(2026, 4, 3, 0, 0, 0, 0, time.UTC), to.AddDate(1, 0, 0), 2)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(walls(got), ", "); w != "2026-04-03 09:00, 2026-04-09 15:00" {
		t.Errorf("limit with rdate: got %s", w)
	}
	if got, _ := r.Expand(to, from, 0); len(got) != 0 {
		t.Errorf("empty window gave %d", len(got))
	}
}

func TestExpandPatterns(t *testing.T) {
	tests := []struct {
		name  string
		start time.Time
		rrule string
		want  string
	}{
		{"every second Thursday", wall(2026, 1, 8, 15, 0), "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;COUNT=5",
			"2026-01-08 15:00, 2026-01-22 15:00, 2026-02-05 15:00, 2026-02-19 15:00, 2026-03-05 15:00"},
		{"first Tuesday of the month", wall(2026, 1, 6, 16, 0), "FREQ=MONTHLY;BYDAY=1TU;COUNT=5",
			"2026-01-06 16:00, 2026-02-03 16:00, 2026-03-03 16:00, 2026-04-07 16:00, 2026-05-05 16:00"},
		{"first Tuesday via BYSETPOS", wall(2026, 1, 6, 16, 0), "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=1;COUNT=3",
			"2026-01-06 16:00, 2026-02-03 16:00, 2026-03-03 16:00"},
		{"last Friday of the month", wall(2026, 1, 30, 14, 0), "FREQ=MONTHLY;BYDAY=-1FR;COUNT=5",
			"2026-01-30 14:00, 2026-02-27 14:00, 2026-03-27 14:00, 2026-04-24 14:00, 2026-05-29 14:00"},
		{"Tuesdays and Thursdays", wall(2026, 3, 24, 10, 0), "FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20260402T235959Z",
			"2026-03-24 10:00, 2026-03-26 10:00, 2026-03-31 10:00, 2026-04-02 10:00"},
		{"daily across spring forward", wall(2026, 3, 27, 9, 0), "FREQ=DAILY;COUNT=4",
			"2026-03-27 09:00, 2026-03-28 09:00, 2026-03-29 09:00, 2026-03-30 09:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Rule{Zone: "Europe/London", Start: tt.start, Duration: 90 * time.Minute, RRule: tt.rrule}
			if err := r.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got := strings.Join(walls(expandAll(t, r)), ", "); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestExpandLenient: a rule saved before a change of tz rules may have meetings in a gap or an
// overlap; Expand still shows them, as RFC 5545 says.
func TestExpandLenient(t *testing.T) {
	r := Rule{Zone: "Europe/London", Start: wall(2026, 3, 22, 1, 30), Duration: time.Hour, RRule: "FREQ=WEEKLY;BYDAY=SU"}
	got, err := r.Expand(time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC), 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	if s := got[0].Start.Format("2006-01-02 15:04 MST"); s != "2026-03-29 02:30 BST" {
		t.Errorf("gap resolved to %s, want 02:30 BST (01:30 read with GMT)", s)
	}
	got, err = r.Expand(time.Date(2026, 10, 24, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 26, 0, 0, 0, 0, time.UTC), 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	if s := got[0].Start.Format("2006-01-02 15:04 MST"); s != "2026-10-25 01:30 BST" {
		t.Errorf("overlap resolved to %s, want the first 01:30 (BST)", s)
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		zone    string
		wall    time.Time
		want    string // instant in UTC, or "" for an error
		wantMsg string
	}{
		{"Europe/London", wall(2026, 3, 29, 0, 59), "2026-03-29 00:59", ""},
		{"Europe/London", wall(2026, 3, 29, 1, 0), "", "01:00 does not exist on Sunday 29 March 2026 in Europe/London (clocks go forward); choose another time"},
		{"Europe/London", wall(2026, 3, 29, 1, 59), "", "01:59 does not exist"},
		{"Europe/London", wall(2026, 3, 29, 2, 0), "2026-03-29 01:00", ""},
		{"Europe/London", wall(2026, 10, 25, 0, 59), "2026-10-24 23:59", ""},
		{"Europe/London", wall(2026, 10, 25, 1, 0), "", "01:00 happens twice on Sunday 25 October 2026 in Europe/London (clocks go back); choose another time"},
		{"Europe/London", wall(2026, 10, 25, 2, 0), "2026-10-25 02:00", ""},
		{"America/Santiago", wall(2026, 9, 6, 0, 0), "", "00:00 does not exist on Sunday 6 September 2026 in America/Santiago"},
		{"America/Santiago", wall(2026, 9, 6, 1, 0), "2026-09-06 04:00", ""},
		{"America/Santiago", wall(2026, 4, 4, 23, 30), "", "23:30 happens twice on Saturday 4 April 2026 in America/Santiago"},
		{"America/Santiago", wall(2026, 4, 5, 0, 30), "2026-04-05 04:30", ""},
		{"America/Argentina/Buenos_Aires", wall(2026, 4, 5, 0, 30), "2026-04-05 03:30", ""},
		{"America/La_Paz", wall(2040, 1, 1, 12, 0), "2040-01-01 16:00", ""}, // beyond the 2038 tz table
		{"UTC", wall(2026, 3, 29, 1, 30), "2026-03-29 01:30", ""},
		// Samoa skipped 30 December 2011 altogether.
		{"Pacific/Apia", wall(2011, 12, 30, 12, 0), "", "12:00 does not exist on Friday 30 December 2011 in Pacific/Apia"},
	}
	for _, tt := range tests {
		got, err := Resolve(mustLoc(t, tt.zone), tt.wall, "when")
		if tt.want != "" {
			if err != nil {
				t.Errorf("%s %s: %v", tt.zone, tt.wall, err)
			} else if s := got.UTC().Format("2006-01-02 15:04"); s != tt.want {
				t.Errorf("%s %s: got %s, want %s", tt.zone, tt.wall, s, tt.want)
			} else if got.Location().String() != tt.zone {
				t.Errorf("%s: result in %s", tt.zone, got.Location())
			}
			continue
		}
		de, ok := domain.AsError(err)
		if !ok || de.Field != "when" || de.Code != domain.CodeInvalid || !strings.HasPrefix(message(de), tt.wantMsg) {
			t.Errorf("%s %s: got %v, want field when and %q", tt.zone, tt.wall, err, tt.wantMsg)
		}
	}
}

func TestValidateGapsAndOverlaps(t *testing.T) {
	tests := []struct {
		name    string
		zone    string
		start   time.Time
		rrule   string
		ex      []time.Time
		rd      []time.Time
		field   string // "" = valid
		message string
	}{
		{"london 01:30 sundays hits the gap", "Europe/London", wall(2026, 1, 4, 1, 30), "FREQ=WEEKLY;BYDAY=SU", nil, nil,
			"start_time", "01:30 does not exist on Sunday 29 March 2026 in Europe/London (clocks go forward); choose another time"},
		{"london 01:30 sundays, gap excluded, hits the overlap", "Europe/London", wall(2026, 1, 4, 1, 30), "FREQ=WEEKLY;BYDAY=SU",
			[]time.Time{wall(2026, 3, 29, 1, 30)}, nil,
			"start_time", "01:30 happens twice on Sunday 25 October 2026 in Europe/London (clocks go back); choose another time"},
		{"london 01:30 sundays from April hits the overlap", "Europe/London", wall(2026, 4, 5, 1, 30), "FREQ=WEEKLY;BYDAY=SU", nil, nil,
			"start_time", "01:30 happens twice on Sunday 25 October 2026 in Europe/London (clocks go back); choose another time"},
		{"london 01:30 sundays ending before March is fine", "Europe/London", wall(2026, 1, 4, 1, 30), "FREQ=WEEKLY;BYDAY=SU;UNTIL=20260322T235959Z", nil, nil, "", ""},
		{"london 01:30 saturdays is fine", "Europe/London", wall(2026, 1, 3, 1, 30), "FREQ=WEEKLY;BYDAY=SA", nil, nil, "", ""},
		{"london monthly last sunday 01:30 hits the gap", "Europe/London", wall(2026, 1, 25, 1, 30), "FREQ=MONTHLY;BYDAY=-1SU", nil, nil,
			"start_time", "01:30 does not exist on Sunday 29 March 2026"},
		{"a single event in the gap", "Europe/London", wall(2026, 3, 29, 1, 15), "", nil, nil,
			"start_time", "01:15 does not exist on Sunday 29 March 2026"},
		{"santiago 00:30 sundays hits its September gap", "America/Santiago", wall(2026, 4, 12, 0, 30), "FREQ=WEEKLY;BYDAY=SU", nil, nil,
			"start_time", "00:30 does not exist on Sunday 6 September 2026 in America/Santiago (clocks go forward); choose another time"},
		{"santiago 23:30 saturdays hits its April overlap", "America/Santiago", wall(2026, 1, 3, 23, 30), "FREQ=WEEKLY;BYDAY=SA", nil, nil,
			"start_time", "23:30 happens twice on Saturday 4 April 2026 in America/Santiago (clocks go back); choose another time"},
		{"santiago 00:30 saturdays is fine", "America/Santiago", wall(2026, 1, 3, 0, 30), "FREQ=WEEKLY;BYDAY=SA", nil, nil, "", ""},
		{"santiago 00:30 sunday 5 April (after the overlap) is fine once", "America/Santiago", wall(2026, 4, 5, 0, 30), "", nil, nil, "", ""},
		{"buenos aires 00:30 sundays is fine", "America/Argentina/Buenos_Aires", wall(2026, 1, 4, 0, 30), "FREQ=WEEKLY;BYDAY=SU", nil, nil, "", ""},
		{"la paz 00:30 sundays is fine", "America/La_Paz", wall(2026, 1, 4, 0, 30), "FREQ=WEEKLY;BYDAY=SU", nil, nil, "", ""},
		{"gap after the validation span is not checked", "Europe/London", wall(2026, 1, 4, 1, 30), "FREQ=YEARLY;BYMONTH=1;BYDAY=1SU", nil, nil, "", ""},
		{"an rdate in the gap", "Europe/London", wall(2026, 1, 8, 15, 0), "FREQ=WEEKLY;BYDAY=TH;COUNT=3", nil,
			[]time.Time{wall(2026, 3, 29, 1, 30)}, "rdates", "01:30 does not exist on Sunday 29 March 2026"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Rule{Zone: tt.zone, Start: tt.start, Duration: time.Hour, RRule: tt.rrule, ExDates: tt.ex, RDates: tt.rd}
			checkErr(t, r.Validate(), tt.field, tt.message)
		})
	}
}

func checkErr(t *testing.T, err error, field, want string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("want no error, got %v", err)
		}
		return
	}
	de, ok := domain.AsError(err)
	if !ok {
		t.Fatalf("want a *domain.Error for %s, got %v", field, err)
	}
	if de.Field != field || de.Code != domain.CodeInvalid || !strings.Contains(message(de), want) {
		t.Fatalf("got field %q message %q; want field %q message containing %q", de.Field, message(de), field, want)
	}
}

func TestValidateErrors(t *testing.T) {
	ok := thursdaySeminar()
	with := func(f func(*Rule)) Rule {
		r := ok
		f(&r)
		return r
	}
	rule := func(s string) Rule { return with(func(r *Rule) { r.RRule = s }) }
	tests := []struct {
		name    string
		rule    Rule
		field   string
		message string
	}{
		{"valid", ok, "", ""},
		{"lower case is fine", rule("freq=weekly;byday=th;count=3"), "", ""},
		{"unknown zone", with(func(r *Rule) { r.Zone = "Mars/Olympus_Mons" }), "timezone", `Unknown time zone "Mars/Olympus_Mons"`},
		{"no zone", with(func(r *Rule) { r.Zone = "" }), "timezone", "Choose a time zone"},
		{"local zone", with(func(r *Rule) { r.Zone = "Local" }), "timezone", "named time zone"},
		{"zero duration", with(func(r *Rule) { r.Duration = 0 }), "duration_minutes", "from 1 to 1440 minutes"},
		{"too long", with(func(r *Rule) { r.Duration = 25 * time.Hour }), "duration_minutes", "from 1 to 1440 minutes"},
		{"no start", with(func(r *Rule) { r.Start = time.Time{} }), "start_date", "Choose a start date"},
		{"start far away", with(func(r *Rule) { r.Start = wall(2401, 1, 8, 15, 0) }), "start_date", "between the years 1970 and 2200"},
		{"seconds", with(func(r *Rule) { r.Start = r.Start.Add(30 * time.Second) }), "start_time", "whole minute"},
		{"start not a meeting", with(func(r *Rule) { r.Start = wall(2026, 1, 7, 15, 0) }), "start_date",
			"The series starts on Wednesday 7 January 2026 at 15:00, but the rule's first meeting is on Thursday 8 January 2026 at 15:00"},
		{"garbage", rule("every thursday"), "rrule", "spaces"},
		{"not name=value", rule("WEEKLY"), "rrule", `"WEEKLY" is not of the form NAME=VALUE`},
		{"empty part", rule("FREQ=WEEKLY;;BYDAY=TH"), "rrule", "empty part"},
		{"trailing semicolon", rule("FREQ=WEEKLY;"), "rrule", "empty part"},
		{"no freq", rule("BYDAY=TH"), "rrule", "needs FREQ"},
		{"bad freq", rule("FREQ=FORTNIGHTLY"), "rrule", `FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY, not "FORTNIGHTLY"`},
		{"minutely", rule("FREQ=MINUTELY"), "rrule", "FREQ=MINUTELY is not allowed"},
		{"hourly", rule("FREQ=HOURLY;INTERVAL=2"), "rrule", "FREQ=HOURLY is not allowed"},
		{"secondly", rule("FREQ=SECONDLY"), "rrule", "FREQ=SECONDLY is not allowed"},
		{"count too big", rule("FREQ=DAILY;COUNT=5000"), "rrule", "COUNT=5000 is too many; a series can have at most 1000 meetings"},
		{"count zero", rule("FREQ=DAILY;COUNT=0"), "rrule", "COUNT must be at least 1"},
		{"count not a number", rule("FREQ=DAILY;COUNT=ten"), "rrule", "COUNT must be a whole number"},
		{"interval zero", rule("FREQ=WEEKLY;INTERVAL=0"), "rrule", "INTERVAL must be between 1 and 1000"},
		{"bad day", rule("FREQ=WEEKLY;BYDAY=XX"), "rrule", `BYDAY: "XX" is not a day`},
		{"numbered day weekly", rule("FREQ=WEEKLY;BYDAY=2TH"), "rrule", "only works with FREQ=MONTHLY or FREQ=YEARLY"},
		{"sixth tuesday", rule("FREQ=MONTHLY;BYDAY=6TU"), "rrule", "at most 5"},
		{"month 13", rule("FREQ=YEARLY;BYMONTH=13"), "rrule", "BYMONTH must be between 1 and 12, not 13"},
		{"bymonthday weekly", rule("FREQ=WEEKLY;BYMONTHDAY=3"), "rrule", "BYMONTHDAY cannot be used with FREQ=WEEKLY"},
		{"bysecond", rule("FREQ=WEEKLY;BYSECOND=5"), "rrule", "BYSECOND is not supported"},
		{"twice", rule("FREQ=WEEKLY;BYDAY=TH;BYDAY=FR"), "rrule", "BYDAY appears twice"},
		{"unknown part", rule("FREQ=WEEKLY;COLOUR=BLUE"), "rrule", `"COLOUR" is not a part`},
		{"dtstart inside", rule("FREQ=WEEKLY;DTSTART=20260108T150000"), "rrule", "Remove DTSTART"},
		{"dtstart line", rule("DTSTART:20260108T150000"), "rrule", "Remove DTSTART"},
		{"tzid inside", rule("FREQ=WEEKLY;TZID=Europe/London"), "rrule", "Remove TZID"},
		{"rrule prefix", rule("RRULE:FREQ=WEEKLY"), "rrule", `Leave out the "RRULE:" prefix`},
		{"newline", rule("FREQ=WEEKLY\nFREQ=DAILY"), "rrule", "line breaks"},
		{"count and until", rule("FREQ=WEEKLY;COUNT=3;UNTIL=20260301T000000Z"), "rrule", "not both"},
		{"local until", rule("FREQ=WEEKLY;UNTIL=20260301T000000"), "rrule", "must be in UTC"},
		{"bad until", rule("FREQ=WEEKLY;UNTIL=tomorrow"), "rrule", "UNTIL must be a date"},
		{"until before start", rule("FREQ=WEEKLY;BYDAY=TH;UNTIL=20260101T000000Z"), "rrule",
			"The rule ends (UNTIL) on Thursday 1 January 2026 at 00:00, before the first meeting on Thursday 8 January 2026 at 15:00"},
		{"until the day before as a date", rule("FREQ=WEEKLY;BYDAY=TH;UNTIL=20260107"), "rrule", "before the first meeting"},
		{"no occurrence at all", rule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"), "rrule", "gives no meetings in the 3 years from Thursday 8 January 2026"},
		{"no occurrence before until", rule("FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2;UNTIL=20270101T000000Z"), "rrule", "gives no meetings between"},
		{"bysetpos alone", rule("FREQ=MONTHLY;BYSETPOS=1"), "rrule", "BYSETPOS needs another BY part"},
		{"too many a year", rule("FREQ=DAILY;BYHOUR=15,16"), "rrule",
			"This rule yields 730 occurrences a year; at most 400 are allowed, use a larger INTERVAL or fewer days"},
		{"daily is fine", rule("FREQ=DAILY"), "", ""},
		{"exdate not a meeting", with(func(r *Rule) { r.ExDates = []time.Time{wall(2026, 3, 5, 16, 0)} }), "exdates",
			"Thursday 5 March 2026 at 16:00 is not a meeting of this series"},
		{"exdate after the end", with(func(r *Rule) { r.ExDates = []time.Time{wall(2027, 1, 7, 15, 0)} }), "exdates", "not a meeting"},
		{"exdate of a meeting", with(func(r *Rule) { r.ExDates = []time.Time{wall(2026, 12, 31, 15, 0)} }), "", ""},
		{"everything excluded", with(func(r *Rule) {
			r.RRule = "FREQ=WEEKLY;COUNT=2"
			r.ExDates = []time.Time{wall(2026, 1, 8, 15, 0), wall(2026, 1, 15, 15, 0)}
		}), "exdates", "Every meeting of the series is excluded"},
		{"single event excluded", with(func(r *Rule) { r.RRule = ""; r.ExDates = []time.Time{wall(2026, 1, 8, 15, 0)} }), "exdates", "Every meeting"},
		{"first excluded but rdate left", with(func(r *Rule) {
			r.RRule = ""
			r.ExDates = []time.Time{wall(2026, 1, 8, 15, 0)}
			r.RDates = []time.Time{wall(2026, 1, 9, 15, 0)}
		}), "", ""},
		{"rdate with seconds", with(func(r *Rule) { r.RDates = []time.Time{wall(2026, 1, 9, 15, 0).Add(time.Second)} }), "rdates", "whole minutes"},
		{"too many exdates", with(func(r *Rule) { r.ExDates = make([]time.Time, MaxDates+1) }), "exdates", "Too many dates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.rule.Validate(), tt.field, tt.message)
		})
	}
}

func TestCanonicalRRule(t *testing.T) {
	tests := []struct {
		in, zone, want, field string
	}{
		{"", "Europe/London", "", ""},
		{" RRULE:freq=weekly; byday=th;interval=1 ", "Europe/London", "FREQ=WEEKLY;BYDAY=TH", ""},
		{"FREQ=WEEKLY;BYDAY=TH;UNTIL=20261217;", "Europe/London", "FREQ=WEEKLY;BYDAY=TH;UNTIL=20261217T235959Z", ""},
		{"FREQ=WEEKLY;BYDAY=TH;UNTIL=20260702", "Europe/London", "FREQ=WEEKLY;BYDAY=TH;UNTIL=20260702T225959Z", ""},
		{"FREQ=WEEKLY;BYDAY=TH;UNTIL=20260702", "America/Santiago", "FREQ=WEEKLY;BYDAY=TH;UNTIL=20260703T035959Z", ""},
		{"UNTIL=20260702T120000Z;FREQ=MONTHLY;BYDAY=+1TU;WKST=SU", "Europe/London", "FREQ=MONTHLY;BYDAY=1TU;WKST=SU;UNTIL=20260702T120000Z", ""},
		{"FREQ=WEEKLY;UNTIL=20260702", "Nowhere/Special", "", "timezone"},
		{"FREQ=NEVER", "Europe/London", "", "rrule"},
	}
	for _, tt := range tests {
		got, err := CanonicalRRule(tt.in, tt.zone)
		if tt.field != "" {
			checkErr(t, err, tt.field, "")
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CanonicalRRule(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// FuzzValidate: no RRULE text may make Validate (or Expand, Describe, PatternOf) panic or hang.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		"FREQ=WEEKLY;BYDAY=TH", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;UNTIL=20261231T235959Z",
		"FREQ=MONTHLY;BYDAY=1TU", "FREQ=MONTHLY;BYDAY=-1FR;COUNT=10", "FREQ=DAILY;COUNT=5000",
		"FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO", "FREQ=YEARLY;BYYEARDAY=-1,100;BYSETPOS=-1",
		"FREQ=MONTHLY;BYMONTHDAY=-1;BYSETPOS=2", "FREQ=DAILY;BYHOUR=0,23;BYMINUTE=0,59",
		"FREQ=WEEKLY;WKST=SU;BYDAY=SU,SA;INTERVAL=3", "FREQ=MINUTELY", "", "RRULE:FREQ=WEEKLY",
		"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;INTERVAL=4", "FREQ=WEEKLY;UNTIL=20260108",
	} {
		f.Add(s)
	}
	start := wall(2026, 1, 8, 15, 0)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	es := words(f, "es")
	f.Fuzz(func(t *testing.T, s string) {
		r := Rule{Zone: "Europe/London", Start: start, Duration: time.Hour, RRule: s}
		if err := r.Validate(); err != nil {
			if _, ok := domain.AsError(err); !ok {
				t.Fatalf("Validate(%q) gave a non-domain error %v", s, err)
			}
			return
		}
		insts, err := r.Expand(from, from.AddDate(2, 0, 0), 50)
		if err != nil {
			t.Fatalf("Expand(%q) after Validate: %v", s, err)
		}
		if len(insts) == 0 || !insts[0].Wall.Equal(start) {
			t.Fatalf("Expand(%q): the first meeting is not the start: %v", s, insts)
		}
		_ = Describe(s, start, r.Zone, es)
		if p := PatternOf(s, start, r.Zone); p.Kind != KindCustom {
			if _, err := p.RRule(start, r.Zone); err != nil {
				t.Fatalf("PatternOf(%q) = %+v, which does not build: %v", s, p, err)
			}
		}
	})
}

// TestFirstWallShift: the 400-year shift used to look for a rule's first date finds the same
// date as a plain search.
func TestFirstWallShift(t *testing.T) {
	for _, s := range []string{
		"FREQ=WEEKLY;BYDAY=TH", "FREQ=WEEKLY;BYDAY=FR", "FREQ=MONTHLY;BYDAY=-1SU", "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
		"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "FREQ=DAILY;BYMONTH=3;BYMONTHDAY=31;BYDAY=TU", "FREQ=YEARLY;BYYEARDAY=-1",
		"FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=-1", "FREQ=DAILY;INTERVAL=9;BYDAY=SA", "FREQ=MONTHLY;BYMONTHDAY=30;BYMONTH=2",
		"FREQ=WEEKLY;BYDAY=TH;UNTIL=20270101T000000Z",
	} {
		for _, start := range []time.Time{wall(2026, 1, 8, 15, 0), wall(2024, 2, 29, 9, 30), wall(2199, 12, 31, 23, 0)} {
			c, err := Rule{Zone: "Europe/London", Start: start, Duration: time.Hour, RRule: s}.compile()
			if err != nil {
				t.Fatal(err)
			}
			upTo := start.AddDate(ValidationSpan, 0, 0)
			var plain time.Time
			c.walls(upTo, func(w time.Time) bool { plain = w; return false })
			if got := c.firstWall(upTo); !got.Equal(plain) {
				t.Errorf("%s from %s: shifted search gives %s, plain %s", s, start, got, plain)
			}
		}
	}
}

func TestResolveLenient(t *testing.T) {
	for _, tt := range []struct {
		zone string
		wall time.Time
		want string
	}{
		{"Europe/London", wall(2026, 3, 29, 1, 30), "2026-03-29 02:30 BST"},    // gap: moved forward
		{"Europe/London", wall(2026, 10, 25, 1, 30), "2026-10-25 01:30 BST"},   // overlap: the first
		{"Europe/London", wall(2026, 7, 1, 15, 0), "2026-07-01 15:00 BST"},     // ordinary
		{"America/Santiago", wall(2026, 9, 6, 0, 30), "2026-09-06 01:30 -03"},  // gap at midnight
		{"America/Santiago", wall(2026, 4, 4, 23, 30), "2026-04-04 23:30 -03"}, // overlap: the first
	} {
		if got := ResolveLenient(mustLoc(t, tt.zone), tt.wall).Format("2006-01-02 15:04 MST"); got != tt.want {
			t.Errorf("%s %s: got %s, want %s", tt.zone, tt.wall, got, tt.want)
		}
	}
}

// An event's rule starts at its start date and "HH:MM" local time, as a wall time.
func TestRuleOfEvent(t *testing.T) {
	day := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		startTime string
		want      time.Time
	}{
		{"15:30", time.Date(2026, 3, 5, 15, 30, 0, 0, time.UTC)},
		{"09:05:00", time.Date(2026, 3, 5, 9, 5, 0, 0, time.UTC)},
		{"", day},
	} {
		e := domain.Event{TimeZone: "Europe/London", StartDate: day, StartTime: tc.startTime, Duration: time.Hour,
			RRule: "FREQ=WEEKLY", ExDates: []time.Time{day}}
		r := RuleOf(e)
		if !r.Start.Equal(tc.want) || r.Start.Location() != time.UTC || r.Zone != e.TimeZone || r.Duration != e.Duration ||
			r.RRule != e.RRule || len(r.ExDates) != 1 {
			t.Errorf("RuleOf(start time %q) = %+v, want start %v", tc.startTime, r, tc.want)
		}
	}
}
