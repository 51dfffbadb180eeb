// Package locales holds Puente's translation catalogues: one <lang>.toml file per language
// (a BCP 47 tag: "en", "es", "pt"). The files are the list of languages Puente speaks;
// adding a language is adding its file (the tests then ask for every message English has).
package locales

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

//go:embed *.toml
var files embed.FS

// Default is the reference language: every other catalogue has exactly its messages, and it
// is spoken when nothing better is known.
const Default = "en"

// FS returns the catalogues, one <lang>.toml each.
func FS() fs.FS { return files }

// Languages lists the catalogues' languages, Default first and the rest in order.
func Languages() []string {
	entries, _ := files.ReadDir(".") // an embedded directory always reads
	langs := []string{Default}
	for _, e := range entries {
		if lang, ok := strings.CutSuffix(e.Name(), ".toml"); ok && lang != Default {
			langs = append(langs, lang)
		}
	}
	slices.Sort(langs[1:])
	return langs
}

// Messages reads lang's catalogue as id -> its forms: "" for a message without plural forms,
// "one", "other", … for one with them. (The tests that compare catalogues read them so.)
func Messages(lang string) (map[string]map[string]string, error) {
	buf, err := fs.ReadFile(files, lang+".toml")
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := toml.Unmarshal(buf, &raw); err != nil {
		return nil, fmt.Errorf("%s.toml: %w", lang, err)
	}
	out := make(map[string]map[string]string, len(raw))
	for id, v := range raw {
		switch v := v.(type) {
		case string:
			out[id] = map[string]string{"": v}
		case map[string]any:
			out[id] = map[string]string{}
			for form, text := range v {
				s, ok := text.(string)
				if !ok {
					return nil, fmt.Errorf("%s.toml: %s.%s is not text", lang, id, form)
				}
				out[id][form] = s
			}
		default:
			return nil, fmt.Errorf("%s.toml: %s is neither text nor plural forms", lang, id)
		}
	}
	return out, nil
}
