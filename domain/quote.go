package domain

import (
	"strconv"
	"unicode/utf8"
)

// clipMax is how many characters of a person's input an error message repeats.
const clipMax = 40

// Clip cuts a value a person sent to its first 40 characters, with "…" after when it was
// longer, so that a huge input never comes back as a huge error message.
func Clip(v string) string {
	if utf8.RuneCountInString(v) <= clipMax {
		return v
	}
	n := 0
	for i := range v {
		if n == clipMax {
			return v[:i] + "…"
		}
		n++
	}
	return v
}

// Quote is Clip in double quotes, the way error messages repeat input: "2026-13-01".
func Quote(v string) string {
	if c := Clip(v); len(c) < len(v) {
		return strconv.Quote(c[:len(c)-len("…")]) + "…"
	}
	return strconv.Quote(v)
}
