package i18n_test

import (
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/frontend/locales"
	"github.com/puente-org/puente/i18n"
)

func load(t *testing.T) *i18n.Catalog { return loadB(t) }

func loadB(t testing.TB) *i18n.Catalog {
	t.Helper()
	c, err := i18n.Load(locales.FS(), locales.Default)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// catalogue reads one <lang>.toml as id -> its forms ("" for a message without plural forms).
func catalogue(t *testing.T, lang string) map[string]map[string]string {
	t.Helper()
	m, err := locales.Messages(lang)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var (
	printed = regexp.MustCompile(`\{\{-?\s*\.(\w+)\s*-?\}\}`) // {{.Name}}, what Go fills in
	braced  = regexp.MustCompile(`(?:^|[^{])\{(\w+)\}`)       // {name}, what room.js fills in
	field   = regexp.MustCompile(`\.([A-Z]\w*)`)              // any field a template reads
)

// placeholders are the values a message shows, over all its forms.
func placeholders(forms map[string]string) []string {
	set := map[string]bool{}
	for _, text := range forms {
		for _, re := range []*regexp.Regexp{printed, braced} {
			for _, m := range re.FindAllStringSubmatch(text, -1) {
				set[m[1]] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// sameWords are the messages every language writes as English does.
var sameWords = map[string]bool{"site.name": true, "live.chat": true, "nav.menu": true} // "Menu" is Portuguese too

// hasWords reports whether a message has text of its own besides its placeholders.
func hasWords(forms map[string]string) bool {
	for _, text := range forms {
		if strings.ContainsFunc(printed.ReplaceAllString(braced.ReplaceAllString(text, ""), ""), unicode.IsLetter) {
			return true
		}
	}
	return false
}

// Every message English has is in every other catalogue, showing the same values, and no
// catalogue has a message English lacks.
func TestEveryCatalogueHasEveryMessageWithItsPlaceholders(t *testing.T) {
	en := catalogue(t, locales.Default)
	langs := domain.Languages()
	if len(langs) < 3 {
		t.Fatalf("languages %v: want at least en, es and pt", langs)
	}
	for _, lang := range langs[1:] {
		other := catalogue(t, lang)
		for id, forms := range en {
			tr, ok := other[id]
			if !ok {
				t.Errorf("%s.toml lacks %q", lang, id)
				continue
			}
			if want, got := placeholders(forms), placeholders(tr); !slices.Equal(want, got) {
				t.Errorf("%s.toml %q shows %v, English shows %v", lang, id, got, want)
			}
			_, enPlain := forms[""]
			if _, trPlain := tr[""]; enPlain != trPlain {
				t.Errorf("%s.toml %q: plural forms in one language and not the other", lang, id)
			}
		}
		for id, forms := range en {
			if tr, ok := other[id]; ok && !sameWords[id] && hasWords(forms) && maps.Equal(forms, tr) {
				t.Errorf("%s.toml %q is the English text, untranslated", lang, id)
			}
		}
		for id := range other {
			if _, ok := en[id]; !ok {
				t.Errorf("%s.toml has %q, which English lacks", lang, id)
			}
		}
	}
}

// Every message of every language renders: its template parses and runs with numbers for
// every value a message reads (Count, Nth and DayNum are numbers; others print as text).
func TestEveryMessageRenders(t *testing.T) {
	c := load(t)
	for _, lang := range c.Languages() {
		l := c.Localizer(lang)
		for id, forms := range catalogue(t, lang) {
			var args []any
			seen := map[string]bool{}
			for _, text := range forms {
				for _, m := range field.FindAllStringSubmatch(text, -1) {
					if !seen[m[1]] {
						seen[m[1]] = true
						args = append(args, m[1], 2)
					}
				}
			}
			got := l.T(id, args...)
			if got == id || strings.Contains(got, "{{") || strings.Contains(got, "<no value>") {
				t.Errorf("%s %q renders as %q", lang, id, got)
			}
		}
	}
}

// The languages are the catalogue files: pt is spoken because pt.toml exists.
func TestLanguagesAreTheCatalogues(t *testing.T) {
	c := load(t)
	files, err := fs.Glob(locales.FS(), "*.toml")
	if err != nil {
		t.Fatal(err)
	}
	var fromFiles []string
	for _, f := range files {
		fromFiles = append(fromFiles, strings.TrimSuffix(f, ".toml"))
	}
	sort.Strings(fromFiles)
	got := slices.Clone(domain.Languages())
	if got[0] != "en" || !slices.Equal(c.Languages(), got) {
		t.Errorf("domain %v, catalogue %v: want the same, English first", got, c.Languages())
	}
	slices.Sort(got)
	if !slices.Equal(got, fromFiles) {
		t.Errorf("domain.Languages() = %v, files %v", got, fromFiles)
	}
	for _, l := range []string{"en", "es", "pt"} {
		if !domain.IsLanguage(l) {
			t.Errorf("IsLanguage(%q) = false", l)
		}
	}
	for _, l := range []string{"", "fr", "pt-BR", "EN", "en.toml"} {
		if domain.IsLanguage(l) {
			t.Errorf("IsLanguage(%q) = true", l)
		}
	}
	// A new file is a new language, with nothing else to change.
	extra := fstest.MapFS{
		"en.toml": {Data: []byte(`"hi" = "Hello"` + "\n")},
		"de.toml": {Data: []byte(`"hi" = "Hallo"` + "\n")},
	}
	cd, err := i18n.Load(extra, "en")
	if err != nil {
		t.Fatal(err)
	}
	if !cd.Supported("de") || cd.Negotiate("de-AT") != "de" || cd.Localizer("de").Month(time.March) != "März" {
		t.Errorf("a de.toml did not make German: %v", cd.Languages())
	}
}

func TestNegotiatePortuguese(t *testing.T) {
	c := load(t)
	for accept, want := range map[string]string{
		"pt-BR,pt;q=0.9,en;q=0.5": "pt",
		"pt-PT":                   "pt",
		"pt":                      "pt",
		"es-AR,es;q=0.9":          "es",
		"fr-FR":                   "en",
		"en-GB,pt;q=0.1":          "en",
	} {
		if got := c.Negotiate(accept); got != want {
			t.Errorf("Negotiate(%q) = %s, want %s", accept, got, want)
		}
	}
}

func TestCLDRNames(t *testing.T) {
	c := load(t)
	thu := time.Date(2026, 3, 12, 15, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		lang, long, short string
		cities            map[string]string
	}{
		{"en", "Thursday 12 March 2026", "Thu 12 Mar", map[string]string{
			"Europe/London": "London", "America/New_York": "New York", "America/Sao_Paulo": "São Paulo",
			"America/Argentina/Buenos_Aires": "Buenos Aires", "Asia/Kolkata": "Kolkata", "Asia/Calcutta": "Kolkata",
			"America/Bogota": "Bogotá", "UTC": "UTC", "Etc/GMT+3": "GMT+3", "America/La_Paz": "La Paz"}},
		{"es", "jueves 12 de marzo de 2026", "jue 12 mar", map[string]string{
			"Europe/London": "Londres", "America/New_York": "Nueva York", "America/Sao_Paulo": "São Paulo",
			"America/Mexico_City": "Ciudad de México", "America/Havana": "La Habana"}},
		{"pt", "quinta-feira, 12 de março de 2026", "qui. 12 mar.", map[string]string{
			"Europe/London": "Londres", "America/New_York": "Nova York", "America/Sao_Paulo": "São Paulo",
			"America/Asuncion": "Assunção", "Europe/Berlin": "Berlim"}},
	} {
		l := c.Localizer(tc.lang)
		if got := l.LongDate(thu); got != tc.long {
			t.Errorf("%s LongDate = %q, want %q", tc.lang, got, tc.long)
		}
		if got := l.ShortDate(thu); got != tc.short {
			t.Errorf("%s ShortDate = %q, want %q", tc.lang, got, tc.short)
		}
		for zone, want := range tc.cities {
			if got := l.City(zone); got != want {
				t.Errorf("%s City(%s) = %q, want %q", tc.lang, zone, got, want)
			}
		}
	}
}

func TestPluralForms(t *testing.T) {
	c := load(t)
	for _, tc := range []struct {
		lang  string
		count int
		want  string
	}{
		{"en", 1, "1 person"}, {"en", 2, "2 people"}, {"en", 0, "0 people"},
		{"es", 1, "1 persona"}, {"es", 5, "5 personas"}, {"es", 1000000, "1000000 personas"},
		{"pt", 1, "1 pessoa"}, {"pt", 0, "0 pessoa"}, {"pt", 3, "3 pessoas"},
	} {
		if got := c.Localizer(tc.lang).T("admin.count", "Count", tc.count); got != tc.want {
			t.Errorf("%s admin.count %d = %q, want %q", tc.lang, tc.count, got, tc.want)
		}
	}
	// A message without forms that takes a Count still renders.
	flat, err := i18n.Load(fstest.MapFS{"en.toml": {Data: []byte(`"n" = "{{.Count}} things"` + "\n")}}, "en")
	if err != nil {
		t.Fatal(err)
	}
	if got := flat.Localizer("en").T("n", "Count", 1); got != "1 things" {
		t.Errorf("flat message with Count: %q", got)
	}
}
