package domain

import (
	"strings"
	"testing"
)

func TestNormalizeTopic(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"Cathode Materials", "cathode materials", true},
		{"  direct   lithium\textraction ", "direct lithium extraction", true},
		{"ESG", "esg", true},
		{"Reciclagem de baterias", "reciclagem de baterias", true},
		{"", "", false},
		{"   ", "", false},
		{strings.Repeat("a", 40), strings.Repeat("a", 40), true},
		{strings.Repeat("a", 41), "", false},
		{"a\x00b", "", false},
	} {
		got, err := NormalizeTopic(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("NormalizeTopic(%q) = %q, %v", c.in, got, err)
		}
		if err != nil && ErrorCode(err) != CodeInvalid {
			t.Errorf("NormalizeTopic(%q): error %v is not invalid input", c.in, err)
		}
	}
}
