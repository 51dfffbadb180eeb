package server

import (
	"io/fs"
	"regexp"
	"testing"

	"github.com/puente-org/puente/frontend"
	"github.com/puente-org/puente/frontend/assets"
	"github.com/puente-org/puente/i18n"
)

// Every message id a template uses exists (in every language: i18n.Load checks that).
func TestTemplatesUseKnownMessages(t *testing.T) {
	cat, err := i18n.Load(frontend.Locales(), "en")
	if err != nil {
		t.Fatal(err)
	}
	ids := regexp.MustCompile(`\.T "([a-z_.]+)"`)
	files, _ := fs.Glob(frontend.Templates(), "*.html")
	if len(files) < 5 {
		t.Fatalf("templates not found: %v", files)
	}
	for _, name := range files {
		b, _ := fs.ReadFile(frontend.Templates(), name)
		for _, m := range ids.FindAllStringSubmatch(string(b), -1) {
			if !cat.Has(m[1]) {
				t.Errorf("%s uses unknown message %q", name, m[1])
			}
		}
	}
	static, err := assets.New(frontend.Static(), staticPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := parseTemplates(static); err != nil {
		t.Fatal(err)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/profile": "/profile", "": "/", "//evil.example": "/", "https://evil.example": "/",
		"/\\evil": "/", "profile": "/", "/a?b=c": "/a?b=c",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}
