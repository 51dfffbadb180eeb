package domain

import (
	"strings"
	"unicode/utf8"
)

// Storable reports whether s can be stored as text: valid UTF-8 with no NUL character
// (U+0000), which PostgreSQL refuses in text columns.
func Storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// CheckStorable is the one check every normaliser makes on free text: it returns an
// invalid-field error naming field when s cannot be stored.
func CheckStorable(field string, s ...string) error {
	for _, v := range s {
		if !Storable(v) {
			return Invalid(field, "err.text.unstorable")
		}
	}
	return nil
}

// Text normalises a free-text field: trimmed, storable, at most max characters, and not
// empty when required.
func Text(field, v string, max int, required bool) (string, error) {
	v = strings.TrimSpace(v)
	if err := CheckStorable(field, v); err != nil {
		return v, err
	}
	if required && v == "" {
		return v, Invalid(field, "err.text.empty")
	}
	if utf8.RuneCountInString(v) > max {
		return v, Invalid(field, "err.text.too_long", "Max", max)
	}
	return v, nil
}

// NormalizeTokenName checks the name a person gives an API token.
func NormalizeTokenName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if err := CheckStorable("name", name); err != nil {
		return name, err
	}
	if name == "" {
		return name, Invalid("name", "err.token.name_empty")
	}
	if utf8.RuneCountInString(name) > MaxTokenNameLen {
		return name, Invalid("name", "err.token.name_too_long")
	}
	return name, nil
}

// Normalize trims a track's name and room and checks them, naming the field at fault.
func (t Track) Normalize() (Track, error) {
	var err error
	if t.Name, err = Text("name", t.Name, 100, false); err != nil {
		return t, err
	}
	if t.Name == "" {
		return t, Invalid("name", "err.track.name_empty")
	}
	if t.Room, err = Text("room", t.Room, 100, false); err != nil {
		return t, err
	}
	return t, nil
}
