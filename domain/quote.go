package domain

import "unicode/utf8"

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
