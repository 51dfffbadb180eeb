package domain

import (
	"strings"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{
		"ana@example.org":                   "ana@example.org",
		"  Ana@Example.ORG ":                "Ana@example.org",
		"lucía@universidad.cl":              "lucía@universidad.cl",
		"root@localhost":                    "root@localhost",
		"":                                  "",
		"ana":                               "",
		"ana@":                              "",
		"Ana <ana@example.org>":             "",
		"ana@example":                       "",
		"a@b.c, d@e.f":                      "",
		strings.Repeat("a", 250) + "@x.org": "",
	} {
		got, err := NormalizeEmail(in)
		if want == "" {
			if err == nil || ErrorCode(err) != CodeInvalid {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want an invalid error", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestSecretsAreRandomAndHashed(t *testing.T) {
	a, ha := NewSecret(PrefixAPIToken)
	b, hb := NewSecret(PrefixAPIToken)
	if a == b || string(ha) == string(hb) || !strings.HasPrefix(a, "pat_") || len(a) < 40 {
		t.Fatalf("secrets %q %q", a, b)
	}
	if string(HashSecret(a)) != string(ha) {
		t.Fatal("hash does not match")
	}
}

func TestCountriesAndZones(t *testing.T) {
	if !IsCountry("CL") || !IsCountry("GB") || IsCountry("XX") || IsCountry("C") || IsCountry("") {
		t.Fatal("country check")
	}
	for _, z := range CommonTimeZones() {
		if err := ValidTimeZone(z); err != nil {
			t.Errorf("common zone %s: %v", z, err)
		}
	}
}
