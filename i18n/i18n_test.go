package i18n

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestMissingTranslationIsAnError(t *testing.T) {
	_, err := Load(fstest.MapFS{
		"en.toml": {Data: []byte("\"a\" = \"A\"\n\"b\" = \"B\"\n")},
		"es.toml": {Data: []byte("\"a\" = \"A es\"\n")},
	}, "en")
	if err == nil || !strings.Contains(err.Error(), "es:b") {
		t.Fatalf("want missing es:b, got %v", err)
	}
}

func TestNegotiateAndTranslate(t *testing.T) {
	c, err := Load(fstest.MapFS{
		"en.toml": {Data: []byte("\"hi\" = \"Hello {{.Name}}\"\n")},
		"es.toml": {Data: []byte("\"hi\" = \"Hola {{.Name}}\"\n")},
	}, "en")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		accept   string
		explicit []string
		want     string
	}{
		{"es-CL,es;q=0.9,en;q=0.8", nil, "es"},
		{"pt-BR", nil, "en"},
		{"", nil, "en"},
		{"en", []string{"es"}, "es"},
		{"es", []string{"fr", ""}, "es"},
		{"garbage;;;", nil, "en"},
	} {
		if got := c.Negotiate(tc.accept, tc.explicit...); got != tc.want {
			t.Errorf("Negotiate(%q, %v) = %s, want %s", tc.accept, tc.explicit, got, tc.want)
		}
	}
	if got := c.Localizer("es").T("hi", "Name", "Ana"); got != "Hola Ana" {
		t.Errorf("got %q", got)
	}
	if got := c.Localizer("en").T("missing.id"); got != "missing.id" {
		t.Errorf("unknown id: %q", got)
	}
}
