package domain_test

import (
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
)

func TestDigestWeekAcrossChileanClockChange(t *testing.T) {
	santiago, err := time.LoadLocation("America/Santiago")
	if err != nil {
		t.Fatal(err)
	}
	// Chile's clocks go from Saturday 5 September 2026 24:00 to Sunday 6 September 01:00
	// (-04 to -03): the digest of Monday 31 August covers 335 hours, not 336.
	w := domain.DigestWeekOf(time.Date(2026, 9, 2, 15, 0, 0, 0, time.UTC), santiago)
	if want := time.Date(2026, 8, 31, 0, 0, 0, 0, time.UTC); !w.Monday.Equal(want) {
		t.Errorf("Monday = %v, want %v", w.Monday, want)
	}
	if want := time.Date(2026, 8, 31, 4, 0, 0, 0, time.UTC); !w.From.Equal(want) {
		t.Errorf("From = %v, want %v", w.From.UTC(), want)
	}
	if want := time.Date(2026, 9, 14, 3, 0, 0, 0, time.UTC); !w.Until.Equal(want) {
		t.Errorf("Until = %v, want %v (Monday 14 September 00:00 at -03)", w.Until.UTC(), want)
	}
	if got := w.Until.Sub(w.From); got != 335*time.Hour {
		t.Errorf("window = %v, want 335h", got)
	}
	if want := time.Date(2026, 8, 31, 12, 0, 0, 0, time.UTC); !w.SendAt.Equal(want) {
		t.Errorf("SendAt = %v, want %v (08:00 at -04)", w.SendAt.UTC(), want)
	}
	// The Monday right after the change: 08:00 is at -03.
	w = domain.DigestWeekOf(time.Date(2026, 9, 7, 11, 0, 0, 0, time.UTC), santiago)
	if want := time.Date(2026, 9, 7, 11, 0, 0, 0, time.UTC); !w.SendAt.Equal(want) {
		t.Errorf("SendAt after the change = %v, want %v", w.SendAt.UTC(), want)
	}
}

func TestDigestDue(t *testing.T) {
	london, _ := time.LoadLocation("Europe/London")
	santiago, _ := time.LoadLocation("America/Santiago")
	auckland, _ := time.LoadLocation("Pacific/Auckland")
	tests := []struct {
		name string
		now  time.Time
		loc  *time.Location
		due  bool
	}{
		{"Santiago Monday 07:59", time.Date(2026, 8, 31, 11, 59, 0, 0, time.UTC), santiago, false},
		{"Santiago Monday 08:00", time.Date(2026, 8, 31, 12, 0, 0, 0, time.UTC), santiago, true},
		{"Santiago Monday 23:59", time.Date(2026, 9, 1, 3, 59, 0, 0, time.UTC), santiago, true},
		{"Santiago Tuesday 00:00: too late", time.Date(2026, 9, 1, 4, 0, 0, 0, time.UTC), santiago, false},
		{"Santiago Thursday", time.Date(2026, 9, 3, 15, 0, 0, 0, time.UTC), santiago, false},
		{"London Monday 08:00 BST", time.Date(2026, 8, 31, 7, 0, 0, 0, time.UTC), london, true},
		{"London Monday 07:30 BST", time.Date(2026, 8, 31, 6, 30, 0, 0, time.UTC), london, false},
		{"Auckland Monday 08:00 is Sunday in UTC", time.Date(2026, 8, 30, 20, 0, 0, 0, time.UTC), auckland, true},
		{"UTC Monday 08:00", time.Date(2026, 8, 31, 8, 0, 0, 0, time.UTC), time.UTC, true},
		{"UTC Sunday 08:00", time.Date(2026, 8, 30, 8, 0, 0, 0, time.UTC), time.UTC, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.DigestWeekOf(tt.now, tt.loc).Due(tt.now); got != tt.due {
				t.Errorf("Due = %v, want %v", got, tt.due)
			}
		})
	}
}

func TestDigestZone(t *testing.T) {
	if got := domain.DigestZone(domain.Person{}); got != time.UTC {
		t.Errorf("no zone: %v, want UTC", got)
	}
	if got := domain.DigestZone(domain.Person{Profile: domain.Profile{TimeZone: "America/La_Paz"}}); got.String() != "America/La_Paz" {
		t.Errorf("zone: %v", got)
	}
}
