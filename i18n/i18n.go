// Package i18n translates Puente's interface and emails. Every string lives in one TOML
// file per language (frontend/locales); the languages Puente speaks are exactly the files
// there, so adding a language is adding its file. Load refuses a catalogue where a language
// lacks a message that English has, so a missing translation fails the build's tests, not a
// user. Day, month and city names come from Unicode's CLDR (see names.go), not the catalogue.
package i18n

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Catalog holds every translation.
type Catalog struct {
	bundle  *goi18n.Bundle
	langs   []string
	matcher language.Matcher
	ids     map[string]bool
	names   map[string]*names // CLDR names per language
}

// Load reads <lang>.toml files from fsys. defaultLang must be among them and comes first
// in negotiation.
func Load(fsys fs.FS, defaultLang string) (*Catalog, error) {
	bundle := goi18n.NewBundle(language.MustParse(defaultLang))
	bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	files, err := fs.Glob(fsys, "*.toml")
	if err != nil {
		return nil, fmt.Errorf("list translations: %w", err)
	}
	c := &Catalog{bundle: bundle, ids: map[string]bool{}, names: map[string]*names{}}
	perLang := map[string]map[string]bool{}
	for _, name := range files {
		buf, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		mf, err := bundle.ParseMessageFileBytes(buf, name)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		lang := strings.TrimSuffix(path.Base(name), ".toml")
		ids := map[string]bool{}
		for _, m := range mf.Messages {
			ids[m.ID] = true
		}
		perLang[lang] = ids
	}
	if perLang[defaultLang] == nil {
		return nil, fmt.Errorf("no %s.toml translation file", defaultLang)
	}
	c.ids = perLang[defaultLang]
	c.langs = []string{defaultLang}
	for lang := range perLang {
		if lang != defaultLang {
			c.langs = append(c.langs, lang)
		}
	}
	sort.Strings(c.langs[1:])
	var missing []string
	for _, lang := range c.langs[1:] {
		for id := range c.ids {
			if !perLang[lang][id] {
				missing = append(missing, lang+":"+id)
			}
		}
		for id := range perLang[lang] {
			if !c.ids[id] {
				missing = append(missing, defaultLang+":"+id)
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("translations missing: %s", strings.Join(missing, ", "))
	}
	tags := make([]language.Tag, len(c.langs))
	for i, l := range c.langs {
		tag, err := language.Parse(l)
		if err != nil {
			return nil, fmt.Errorf("translation file %s.toml: not a language tag: %w", l, err)
		}
		tags[i] = tag
		if c.names[l], err = loadNames(l); err != nil {
			return nil, err
		}
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// Languages lists the catalogue's languages, default first.
func (c *Catalog) Languages() []string { return append([]string(nil), c.langs...) }

// Has reports whether id is a known message.
func (c *Catalog) Has(id string) bool { return c.ids[id] }

// Supported reports whether lang is one of the catalogue's languages.
func (c *Catalog) Supported(lang string) bool {
	for _, l := range c.langs {
		if l == lang {
			return true
		}
	}
	return false
}

// Negotiate picks a language: the first of explicit that is supported (a chosen language,
// a profile setting), else the best match for an Accept-Language header, else the default.
func (c *Catalog) Negotiate(acceptLanguage string, explicit ...string) string {
	for _, l := range explicit {
		if c.Supported(l) {
			return l
		}
	}
	if acceptLanguage != "" {
		tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
		if err == nil && len(tags) > 0 {
			_, idx, conf := c.matcher.Match(tags...)
			if conf != language.No {
				return c.langs[idx]
			}
		}
	}
	return c.langs[0]
}

// Localizer translates into one language.
type Localizer struct {
	lang  string
	l     *goi18n.Localizer
	names *names
}

// Localizer returns a translator for lang (the default language if lang is unsupported).
func (c *Catalog) Localizer(lang string) *Localizer {
	if !c.Supported(lang) {
		lang = c.langs[0]
	}
	return &Localizer{lang: lang, l: goi18n.NewLocalizer(c.bundle, lang), names: c.names[lang]}
}

// Lang is the language this localizer speaks.
func (l *Localizer) Lang() string { return l.lang }

// T translates message id. args are name/value pairs for the message template
// ({{.Name}} in the TOML). An argument named Count also picks the plural form of a message
// written with forms (one = "...", other = "..."), by the language's CLDR plural rules. An
// unknown id comes back as itself, so it shows up in review (and the tests check every id
// the templates use exists).
func (l *Localizer) T(id string, args ...any) string {
	var data map[string]any
	if len(args) > 0 {
		data = make(map[string]any, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			data[fmt.Sprint(args[i])] = args[i+1]
		}
	}
	cfg := &goi18n.LocalizeConfig{MessageID: id, TemplateData: data}
	if n, ok := data["Count"]; ok {
		cfg.PluralCount = n
	}
	s, err := l.l.Localize(cfg)
	if err != nil && cfg.PluralCount != nil {
		// A message without plural forms that happens to take a Count.
		cfg.PluralCount = nil
		s, err = l.l.Localize(cfg)
	}
	if err != nil {
		return id
	}
	return s
}
