// Package locales holds Puente's translation catalogues: one <lang>.toml file per language
// (a BCP 47 tag: "en", "es", "pt"). The files are the list of languages Puente speaks;
// adding a language is adding its file (the tests then ask for every message English has).
package locales

import (
	"embed"
	"io/fs"
	"slices"
	"strings"
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
