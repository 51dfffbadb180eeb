package i18n_test

import (
	"testing"
	"time"
)

// Dates go through the catalogue's pattern and CLDR names: one per occurrence on a page.
func BenchmarkLongDate(b *testing.B) {
	l := loadB(b).Localizer("pt")
	t := time.Date(2026, 3, 12, 15, 0, 0, 0, time.UTC)
	for b.Loop() {
		_ = l.LongDate(t)
	}
}

func BenchmarkCity(b *testing.B) {
	l := loadB(b).Localizer("es")
	for b.Loop() {
		_ = l.City("America/Argentina/Buenos_Aires")
	}
}

// Load reads every catalogue and its languages' CLDR names (once per server start).
func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		loadB(b)
	}
}
