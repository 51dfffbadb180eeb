package programme

import (
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puente-org/puente/frontend/locales"
	"github.com/puente-org/puente/i18n"
)

func TestPatternRRule(t *testing.T) {
	thu := wall(2026, 1, 8, 15, 0) // the second Thursday of January 2026
	tests := []struct {
		name    string
		p       Pattern
		start   time.Time
		zone    string
		want    string
		field   string
		message string
	}{
		{"once", Pattern{Kind: "once", Ends: "count", Count: 3}, thu, "Europe/London", "", "", ""},
		{"weekly default day", Pattern{Kind: "weekly"}, thu, "Europe/London", "FREQ=WEEKLY;BYDAY=TH", "", ""},
		{"every second thursday", Pattern{Kind: "weekly", Interval: 2, Weekdays: []time.Weekday{time.Thursday}},
			thu, "Europe/London", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", "", ""},
		{"days sorted monday first, deduplicated", Pattern{Kind: "weekly", Weekdays: []time.Weekday{time.Sunday, time.Thursday, time.Tuesday, time.Thursday}},
			thu, "Europe/London", "FREQ=WEEKLY;BYDAY=TU,TH,SU", "", ""},
		// UNTIL = 23:59:59 local on the last date: GMT in December, BST in July, -03 in Santiago in December.
		{"until in winter", Pattern{Kind: "weekly", Interval: 2, Ends: "until", Until: wall(2026, 12, 17, 0, 0)},
			thu, "Europe/London", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;UNTIL=20261217T235959Z", "", ""},
		{"until in summer", Pattern{Kind: "weekly", Ends: "until", Until: wall(2026, 7, 2, 9, 45)},
			thu, "Europe/London", "FREQ=WEEKLY;BYDAY=TH;UNTIL=20260702T225959Z", "", ""},
		{"until in santiago", Pattern{Kind: "weekly", Ends: "until", Until: wall(2026, 12, 17, 0, 0)},
			wall(2026, 1, 8, 12, 0), "America/Santiago", "FREQ=WEEKLY;BYDAY=TH;UNTIL=20261218T025959Z", "", ""},
		{"until on the start date", Pattern{Kind: "weekly", Ends: "until", Until: thu},
			thu, "Europe/London", "FREQ=WEEKLY;BYDAY=TH;UNTIL=20260108T235959Z", "", ""},
		{"count", Pattern{Kind: "weekly", Ends: "count", Count: 10}, thu, "Europe/London", "FREQ=WEEKLY;BYDAY=TH;COUNT=10", "", ""},
		{"first tuesday", Pattern{Kind: "monthly", Nth: 1, Weekday: time.Tuesday}, wall(2026, 1, 6, 16, 0), "Europe/London", "FREQ=MONTHLY;BYDAY=1TU", "", ""},
		{"last friday every 2 months", Pattern{Kind: "monthly", Interval: 2, Nth: -1, Weekday: time.Friday},
			wall(2026, 1, 30, 14, 0), "Europe/London", "FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR", "", ""},
		{"monthly from the start date", Pattern{Kind: "monthly"}, thu, "Europe/London", "FREQ=MONTHLY;BYDAY=2TH", "", ""},
		{"monthly from a fifth weekday = last", Pattern{Kind: "monthly"}, wall(2026, 1, 29, 15, 0), "Europe/London", "FREQ=MONTHLY;BYDAY=-1TH", "", ""},
		{"custom is tidied", Pattern{Kind: "custom", Custom: "rrule:freq=daily;count=3", Ends: "until"}, thu, "Europe/London", "FREQ=DAILY;COUNT=3", "", ""},
		{"custom empty", Pattern{Kind: "custom"}, thu, "Europe/London", "", "rrule", "Write the recurrence rule"},
		{"custom bad", Pattern{Kind: "custom", Custom: "FREQ=HOURLY"}, thu, "Europe/London", "", "rrule", "not allowed"},
		{"unknown kind", Pattern{Kind: "fortnightly"}, thu, "Europe/London", "", "rrule", "Choose how often"},
		{"bad interval", Pattern{Kind: "weekly", Interval: -2}, thu, "Europe/London", "", "interval", "between 1 and 1000"},
		{"bad weekday", Pattern{Kind: "weekly", Weekdays: []time.Weekday{9}}, thu, "Europe/London", "", "weekdays", "days of the week"},
		{"bad nth", Pattern{Kind: "monthly", Nth: 5, Weekday: time.Tuesday}, thu, "Europe/London", "", "nth", "first, second, third, fourth or last"},
		{"until missing", Pattern{Kind: "weekly", Ends: "until"}, thu, "Europe/London", "", "until", "Choose the date of the last meeting"},
		{"until before start", Pattern{Kind: "weekly", Ends: "until", Until: wall(2026, 1, 7, 0, 0)}, thu, "Europe/London", "", "until",
			"The last date is before the first meeting on Thursday 8 January 2026"},
		{"count too big", Pattern{Kind: "weekly", Ends: "count", Count: 1001}, thu, "Europe/London", "", "count", "between 1 and 1000"},
		{"count zero", Pattern{Kind: "weekly", Ends: "count"}, thu, "Europe/London", "", "count", "between 1 and 1000"},
		{"bad ends", Pattern{Kind: "weekly", Ends: "sometime"}, thu, "Europe/London", "", "ends", "Choose when the series ends"},
		{"bad zone", Pattern{Kind: "weekly"}, thu, "Atlantis/Capital", "", "timezone", "Unknown time zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.RRule(tt.start, tt.zone)
			if tt.field != "" {
				checkErr(t, err, tt.field, tt.message)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
			r := Rule{Zone: tt.zone, Start: tt.start, Duration: time.Hour, RRule: got}
			if tt.p.Kind == "weekly" && len(tt.p.Weekdays) > 1 {
				return // the start is not on every listed day; Validate is tested elsewhere
			}
			if err := r.Validate(); err != nil {
				t.Fatalf("the built rule %q does not validate: %v", got, err)
			}
		})
	}
}

// TestPatternUntilKeepsLastMeeting: the UNTIL written for a last date keeps the meeting on that
// date, whatever the offset then.
func TestPatternUntilKeepsLastMeeting(t *testing.T) {
	for _, tt := range []struct {
		zone  string
		start time.Time
		last  time.Time
	}{
		{"Europe/London", wall(2026, 1, 8, 23, 30), wall(2026, 7, 2, 0, 0)},
		{"Europe/London", wall(2026, 1, 8, 23, 30), wall(2026, 12, 17, 0, 0)},
		{"America/Santiago", wall(2026, 1, 8, 23, 30), wall(2026, 7, 2, 0, 0)},
		{"Pacific/Auckland", wall(2026, 1, 8, 23, 30), wall(2026, 7, 2, 0, 0)},
		{"America/Los_Angeles", wall(2026, 1, 8, 0, 15), wall(2026, 7, 2, 0, 0)},
	} {
		s, err := Pattern{Kind: "weekly", Ends: "until", Until: tt.last}.RRule(tt.start, tt.zone)
		if err != nil {
			t.Fatal(err)
		}
		r := Rule{Zone: tt.zone, Start: tt.start, Duration: time.Hour, RRule: s}
		got := expandAll(t, r)
		lastWall := got[len(got)-1].Wall
		if lastWall.Format("2006-01-02") != tt.last.Format("2006-01-02") {
			t.Errorf("%s %s: last meeting %s, want on %s", tt.zone, s, lastWall, tt.last.Format("2006-01-02"))
		}
	}
}

func TestPatternRoundTrip(t *testing.T) {
	thu := wall(2026, 1, 8, 15, 0)
	tests := []struct {
		name  string
		p     Pattern
		start time.Time
		zone  string
	}{
		{"once", Pattern{Kind: "once", Interval: 1, Ends: "never"}, thu, "Europe/London"},
		{"weekly", Pattern{Kind: "weekly", Interval: 1, Weekdays: []time.Weekday{time.Thursday}, Ends: "never"}, thu, "Europe/London"},
		{"fortnightly until", Pattern{Kind: "weekly", Interval: 2, Weekdays: []time.Weekday{time.Thursday}, Ends: "until", Until: wall(2026, 12, 17, 0, 0)}, thu, "Europe/London"},
		{"until in BST", Pattern{Kind: "weekly", Interval: 1, Weekdays: []time.Weekday{time.Thursday}, Ends: "until", Until: wall(2026, 7, 2, 0, 0)}, thu, "Europe/London"},
		{"until in santiago winter", Pattern{Kind: "weekly", Interval: 1, Weekdays: []time.Weekday{time.Thursday}, Ends: "until", Until: wall(2026, 7, 2, 0, 0)}, thu, "America/Santiago"},
		{"two days with count", Pattern{Kind: "weekly", Interval: 3, Weekdays: []time.Weekday{time.Monday, time.Thursday}, Ends: "count", Count: 12}, thu, "America/La_Paz"},
		{"first tuesday", Pattern{Kind: "monthly", Interval: 1, Nth: 1, Weekday: time.Tuesday, Ends: "never"}, wall(2026, 1, 6, 16, 0), "Europe/London"},
		{"last friday every 3 months", Pattern{Kind: "monthly", Interval: 3, Nth: -1, Weekday: time.Friday, Ends: "count", Count: 4}, wall(2026, 1, 30, 14, 0), "America/Argentina/Buenos_Aires"},
		{"custom daily", Pattern{Kind: "custom", Custom: "FREQ=DAILY;COUNT=5", Interval: 1, Ends: "count", Count: 5}, thu, "Europe/London"},
		{"custom yearly", Pattern{Kind: "custom", Custom: "FREQ=YEARLY;BYMONTH=1;BYDAY=2TH", Interval: 1, Ends: "never"}, thu, "Europe/London"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.p.RRule(tt.start, tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			back := PatternOf(s, tt.start, tt.zone)
			if !reflect.DeepEqual(back, tt.p) {
				t.Fatalf("RRule %q came back as\n%+v\nwant\n%+v", s, back, tt.p)
			}
			again, err := back.RRule(tt.start, tt.zone)
			if err != nil || again != s {
				t.Fatalf("second trip gave %q, %v; want %q", again, err, s)
			}
		})
	}
}

func TestPatternOf(t *testing.T) {
	thu := wall(2026, 1, 8, 15, 0)
	tests := []struct {
		rrule string
		want  Pattern
	}{
		{"FREQ=WEEKLY", Pattern{Kind: "weekly", Interval: 1, Weekdays: []time.Weekday{time.Thursday}, Ends: "never"}},
		{"freq=monthly;byday=tu;bysetpos=-1", Pattern{Kind: "monthly", Interval: 1, Nth: -1, Weekday: time.Tuesday, Ends: "never"}},
		{"FREQ=WEEKLY;BYDAY=TH;UNTIL=20260402", Pattern{Kind: "weekly", Interval: 1, Weekdays: []time.Weekday{time.Thursday}, Ends: "until", Until: wall(2026, 4, 2, 0, 0)}},
		// UNTIL at 14:00 BST on 2 Apr stops before that day's 15:00 meeting: the form says 1 Apr,
		// which builds a rule with the same meetings.
		{"FREQ=WEEKLY;BYDAY=TH;UNTIL=20260402T130000Z", Pattern{Kind: "weekly", Interval: 1, Weekdays: []time.Weekday{time.Thursday}, Ends: "until", Until: wall(2026, 4, 1, 0, 0)}},
		{"FREQ=WEEKLY;BYDAY=TH;UNTIL=20260402T140000Z", Pattern{Kind: "weekly", Interval: 1, Weekdays: []time.Weekday{time.Thursday}, Ends: "until", Until: wall(2026, 4, 2, 0, 0)}},
		{"FREQ=MONTHLY;BYDAY=5TH", Pattern{Kind: "custom", Custom: "FREQ=MONTHLY;BYDAY=5TH", Interval: 1, Ends: "never"}},
		{"FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=SU", Pattern{Kind: "custom", Custom: "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=SU", Interval: 2, Ends: "never"}},
		{"FREQ=WEEKLY;BYDAY=TH;BYHOUR=15,17", Pattern{Kind: "custom", Custom: "FREQ=WEEKLY;BYDAY=TH;BYHOUR=15,17", Interval: 1, Ends: "never"}},
		{"not a rule", Pattern{Kind: "custom", Custom: "not a rule", Interval: 1, Ends: "never"}},
	}
	for _, tt := range tests {
		if got := PatternOf(tt.rrule, thu, "Europe/London"); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("PatternOf(%q) =\n%+v\nwant\n%+v", tt.rrule, got, tt.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	thu := wall(2026, 1, 8, 15, 0)
	tests := []struct {
		rrule  string
		start  time.Time
		en, es string
	}{
		{"", thu, "Once", "Una vez"},
		{"FREQ=WEEKLY;BYDAY=TH", thu, "Every Thursday", "Cada jueves"},
		{"FREQ=WEEKLY", thu, "Every Thursday", "Cada jueves"},
		{"FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;UNTIL=20261217T235959Z", thu,
			"Every 2 weeks on Thursday, until 17 Dec 2026", "Cada 2 semanas, el jueves, hasta el 17 dic 2026"},
		{"FREQ=WEEKLY;BYDAY=SA,TU,TH", thu, "Every Tuesday, Thursday and Saturday", "Cada martes, jueves y sábado"},
		{"FREQ=WEEKLY;BYDAY=SU;COUNT=10", thu, "Every Sunday, 10 times", "Cada domingo, 10 veces"},
		{"FREQ=MONTHLY;BYDAY=1TU", wall(2026, 1, 6, 16, 0), "First Tuesday of every month", "El primer martes de cada mes"},
		{"FREQ=MONTHLY;BYDAY=-1FR;INTERVAL=2", wall(2026, 1, 30, 16, 0), "Last Friday of every 2 months", "El último viernes de cada 2 meses"},
		{"FREQ=MONTHLY;BYDAY=WE;BYSETPOS=3", thu, "Third Wednesday of every month", "El tercer miércoles de cada mes"},
		{"FREQ=MONTHLY;BYMONTHDAY=15", thu, "On day 15 of every month", "El día 15 de cada mes"},
		{"FREQ=MONTHLY", thu, "On day 8 of every month", "El día 8 de cada mes"},
		{"FREQ=MONTHLY;BYMONTHDAY=-1", thu, "On the last day of every month", "El último día de cada mes"},
		{"FREQ=DAILY;COUNT=1", thu, "Every day, once", "Todos los días, una vez"},
		{"FREQ=DAILY;INTERVAL=3", thu, "Every 3 days", "Cada 3 días"},
		{"FREQ=YEARLY", thu, "Every year on 8 January", "Cada año el 8 de enero"},
		{"FREQ=YEARLY;INTERVAL=2;BYMONTH=9;BYMONTHDAY=10", thu, "Every 2 years on 10 September", "Cada 2 años el 10 de septiembre"},
		{"FREQ=YEARLY;BYMONTH=1;BYDAY=2TH", thu, "FREQ=YEARLY;BYMONTH=1;BYDAY=2TH", "FREQ=YEARLY;BYMONTH=1;BYDAY=2TH"},
		{"FREQ=WEEKLY;BYDAY=TH;BYHOUR=15,17", thu, "FREQ=WEEKLY;BYDAY=TH;BYHOUR=15,17", "FREQ=WEEKLY;BYDAY=TH;BYHOUR=15,17"},
		{"rubbish", thu, "rubbish", "rubbish"},
	}
	for _, tt := range tests {
		if got := Describe(tt.rrule, tt.start, "Europe/London", words(t, "en")); got != tt.en {
			t.Errorf("Describe(%q, en) = %q, want %q", tt.rrule, got, tt.en)
		}
		if got := Describe(tt.rrule, tt.start, "Europe/London", words(t, "es")); got != tt.es {
			t.Errorf("Describe(%q, es) = %q, want %q", tt.rrule, got, tt.es)
		}
	}
	if got := Describe("FREQ=WEEKLY", thu, "Europe/London", words(t, "fr")); got != "Every Thursday" {
		t.Errorf("unknown language: %q", got)
	}
}

func TestPreview(t *testing.T) {
	r := thursdaySeminar()
	tests := []struct {
		name  string
		other string
		from  time.Time
		n     int
		lang  string
		want  []string // "InZone | InOther"
	}{
		{"santiago in english", "America/Santiago", time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC), 4, "en", []string{
			"Thu 26 Mar 2026, 15:00 GMT | 12:00 -03",
			"Thu 2 Apr 2026, 15:00 BST | 11:00 -03",
			"Thu 9 Apr 2026, 15:00 BST | 10:00 -04",
			"Thu 16 Apr 2026, 15:00 BST | 10:00 -04",
		}},
		{"buenos aires in spanish", "America/Argentina/Buenos_Aires", time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC), 2, "es", []string{
			"jue 22 oct 2026, 15:00 BST | 11:00 -03",
			"jue 29 oct 2026, 15:00 GMT | 12:00 -03",
		}},
		{"tokyo is the next day", "Asia/Tokyo", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 1, "en", []string{
			"Thu 8 Jan 2026, 15:00 GMT | 00:00 JST (Fri 9 Jan)",
		}},
		{"no other zone; the series ends", "", time.Date(2026, 12, 25, 0, 0, 0, 0, time.UTC), 5, "en", []string{
			"Thu 31 Dec 2026, 15:00 GMT | ",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := Preview(r, tt.other, tt.from, tt.n, words(t, tt.lang))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range items {
				got = append(got, it.InZone+" | "+it.InOther)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	_, err := Preview(r, "Nowhere/Town", time.Now(), 3, words(t, "en"))
	checkErr(t, err, "other_timezone", "Unknown time zone")
	bad := r
	bad.Start = wall(2026, 1, 7, 15, 0)
	_, err = Preview(bad, "", time.Now(), 3, words(t, "en"))
	checkErr(t, err, "start_date", "first meeting")
	items, err := Preview(r, "", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 0, words(t, "en"))
	if err != nil || len(items) != 10 {
		t.Errorf("default n: got %d items, %v", len(items), err)
	}
}

func TestFormatPair(t *testing.T) {
	lon := mustLoc(t, "Europe/London")
	scl := mustLoc(t, "America/Santiago")
	lis := mustLoc(t, "Europe/Lisbon")
	tyo := mustLoc(t, "Asia/Tokyo")
	jan := time.Date(2026, 1, 8, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		name           string
		t              time.Time
		series, viewer *time.Location
		lang, want     string
	}{
		{"london to santiago", jan, lon, scl, "en", "15:00 London · 12:00 your time"},
		{"london to santiago in spanish", jan, lon, scl, "es", "15:00 Londres · 12:00 tu hora"},
		{"santiago series to london viewer", jan, scl, lon, "es", "12:00 Santiago de Chile · 15:00 tu hora"},
		{"same zone", jan, lon, lon, "en", "15:00 your time"},
		{"same clock, other zone", jan, lon, lis, "es", "15:00 tu hora"},
		{"next day", jan, lon, tyo, "en", "15:00 London · 00:00 your time (Fri 9 Jan)"},
		{"no viewer zone", jan, lon, nil, "es", "15:00 Londres"},
		{"buenos aires", jan, mustLoc(t, "America/Argentina/Buenos_Aires"), lon, "en", "12:00 Buenos Aires · 15:00 your time"},
	}
	for _, tt := range tests {
		if got := FormatPair(tt.t, tt.series, tt.viewer, words(t, tt.lang)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

var catalog = sync.OnceValues(func() (*i18n.Catalog, error) { return i18n.Load(locales.FS(), locales.Default) })

// words is the real catalogue's localizer for lang (the unknown "fr" speaks English).
func words(t testing.TB, lang string) Words {
	t.Helper()
	cat, err := catalog()
	if err != nil {
		t.Fatal(err)
	}
	return cat.Localizer(lang)
}

// Portuguese comes from its catalogue alone; its ordinals agree with the day.
func TestDescribePortuguese(t *testing.T) {
	thu := wall(2026, 1, 8, 15, 0)
	pt := words(t, "pt")
	for _, tc := range []struct{ rrule, want string }{
		{"", "Uma vez"},
		{"FREQ=WEEKLY;BYDAY=TH", "Toda semana: quinta-feira"},
		{"FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;UNTIL=20261217T235959Z", "A cada 2 semanas: terça-feira e quinta-feira, até 17 dez. 2026"},
		{"FREQ=MONTHLY;BYDAY=1TU", "Primeira terça-feira de cada mês"},
		{"FREQ=MONTHLY;BYDAY=-1SA;INTERVAL=2", "Último sábado, a cada 2 meses"},
		{"FREQ=DAILY;COUNT=1", "Todos os dias, uma vez"},
		{"FREQ=DAILY;COUNT=3", "Todos os dias, 3 vezes"},
		{"FREQ=YEARLY;BYMONTH=9;BYMONTHDAY=10", "Todo ano em 10 de setembro"},
	} {
		if got := Describe(tc.rrule, thu, "Europe/London", pt); got != tc.want {
			t.Errorf("Describe(%q, pt) = %q, want %q", tc.rrule, got, tc.want)
		}
	}
	lon, scl := mustLoc(t, "Europe/London"), mustLoc(t, "America/Sao_Paulo")
	if got := FormatPair(time.Date(2026, 1, 8, 15, 0, 0, 0, time.UTC), lon, scl, pt); got != "15:00 Londres · 12:00 no seu horário" {
		t.Errorf("FormatPair pt = %q", got)
	}
}
