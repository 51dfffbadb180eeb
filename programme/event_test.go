package programme

import (
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
)

func TestValidateEventAndOccurrence(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	ptr := func(t time.Time) *time.Time { return &t }
	conf := domain.Event{Kind: domain.KindConference, TimeZone: "America/Santiago", StartDate: day(2026, 3, 2), EndDate: ptr(day(2026, 3, 4)), StartTime: "09:00"}
	with := func(f func(*domain.Event)) domain.Event { e := conf; f(&e); return e }
	for _, tt := range []struct {
		name  string
		e     domain.Event
		field string
	}{
		{"a good conference", conf, ""},
		{"year 0", with(func(e *domain.Event) { e.StartDate, e.EndDate = day(0, 3, 2), ptr(day(0, 3, 3)) }), "start_date"},
		{"year 9999", with(func(e *domain.Event) { e.StartDate, e.EndDate = day(9999, 3, 2), ptr(day(9999, 3, 3)) }), "start_date"},
		{"year 0 start, 2026 end", with(func(e *domain.Event) { e.StartDate = day(0, 3, 2) }), "start_date"},
		{"end in 9999", with(func(e *domain.Event) { e.EndDate = ptr(day(9999, 3, 3)) }), "end_date"},
		{"end before start", with(func(e *domain.Event) { e.EndDate = ptr(day(2026, 3, 1)) }), "end_date"},
		{"32 days", with(func(e *domain.Event) { e.EndDate = ptr(day(2026, 4, 3)) }), "end_date"},
		{"a rule", with(func(e *domain.Event) { e.RRule = "FREQ=DAILY" }), "rrule"},
		{"extra dates", with(func(e *domain.Event) { e.RDates = []time.Time{day(2026, 3, 5)} }), "rdates"},
		{"excluded dates", with(func(e *domain.Event) { e.ExDates = []time.Time{day(2026, 3, 3)} }), "exdates"},
		{"Factory", with(func(e *domain.Event) { e.TimeZone = "Factory" }), "timezone"},
	} {
		t.Run(tt.name, func(t *testing.T) { checkErr(t, ValidateEvent(tt.e), tt.field, "") })
	}
	series := domain.Event{Kind: domain.KindSeries, TimeZone: "Europe/London", StartDate: day(2026, 1, 8), StartTime: "15:00", Duration: time.Hour}
	for _, tt := range []struct {
		e     domain.Event
		o     domain.Occurrence
		field string
	}{
		{series, domain.Occurrence{StartLocal: time.Date(2026, 2, 10, 16, 0, 0, 0, time.UTC), Duration: time.Hour}, ""},
		{series, domain.Occurrence{StartLocal: time.Date(0, 2, 10, 16, 0, 0, 0, time.UTC), Duration: time.Hour}, "start_date"},
		{series, domain.Occurrence{StartLocal: time.Date(1969, 12, 31, 16, 0, 0, 0, time.UTC), Duration: time.Hour}, "start_date"},
		{series, domain.Occurrence{StartLocal: time.Date(2201, 1, 1, 16, 0, 0, 0, time.UTC), Duration: time.Hour}, "start_date"},
		{series, domain.Occurrence{StartLocal: time.Date(2026, 2, 10, 16, 0, 0, 0, time.UTC)}, "duration_minutes"},
		{conf, domain.Occurrence{Origin: "session", Title: "Opening", StartLocal: time.Date(2026, 3, 4, 16, 0, 0, 0, time.UTC), Duration: time.Hour}, ""},
		{conf, domain.Occurrence{Origin: "session", Title: "Late", StartLocal: time.Date(2026, 3, 5, 16, 0, 0, 0, time.UTC), Duration: time.Hour}, "start_date"},
		{conf, domain.Occurrence{Origin: "session", StartLocal: time.Date(2026, 3, 3, 16, 0, 0, 0, time.UTC), Duration: time.Hour}, "title"},
	} {
		checkErr(t, ValidateOccurrence(tt.e, tt.o), tt.field, "")
	}
}
