// Package frontend holds the browser side of Puente: server-rendered page templates,
// static assets and translations, embedded in the binary so nothing needs building to run.
package frontend

import (
	"embed"
	"io/fs"

	"github.com/puente-org/puente/frontend/locales"
)

//go:embed templates static
var files embed.FS

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil { // only if the embed directive above is changed
		panic(err)
	}
	return f
}

// Templates returns the html/template files (layout.html plus one file per page).
func Templates() fs.FS { return sub("templates") }

// Static returns the CSS, JavaScript and images served under /static/.
func Static() fs.FS { return sub("static") }

// Locales returns one <lang>.toml translation file per language (package locales).
func Locales() fs.FS { return locales.FS() }
