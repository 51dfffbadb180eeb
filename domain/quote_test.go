package domain

import (
	"strings"
	"testing"
)

func TestClip(t *testing.T) {
	long := strings.Repeat("ñ", 45)
	for _, tc := range []struct{ in, clip string }{
		{"", ""},
		{"2026-13-01", "2026-13-01"},
		{strings.Repeat("a", 40), strings.Repeat("a", 40)},
		{strings.Repeat("a", 41), strings.Repeat("a", 40) + "…"},
		{long, strings.Repeat("ñ", 40) + "…"}, // characters, not bytes
		{"a\"b\x00", "a\"b\x00"},
	} {
		if got := Clip(tc.in); got != tc.clip {
			t.Errorf("Clip(%.50q) = %q, want %q", tc.in, got, tc.clip)
		}
	}
	if got := Clip(strings.Repeat("9", 1<<20)); len(got) > 60 {
		t.Errorf("Clip of 1 MB is %d bytes", len(got))
	}
}
