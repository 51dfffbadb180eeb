package calendar

import (
	"bytes"
	"slices"
	"strings"
	"unicode/utf8"

	ics "github.com/arran4/golang-ical"
)

// golang-ical holds the structure (calendar, components, properties with parameters), but its
// serialiser does not write what clients need: it ends lines with LF on Unix, folds at word
// boundaries, escapes parameter values with backslashes (RFC 5545 quotes them) and passes control
// characters through. So the tree is written here, by these rules:
//
//   - every line ends in CRLF and is at most 75 octets; a longer content line is folded into
//     continuation lines (CRLF + one space), never inside a UTF-8 sequence;
//   - TEXT values (by golang-ical's value-type table) escape backslash, semicolon, comma and
//     newline; CR and other control characters (except TAB) are dropped, invalid UTF-8 is replaced;
//   - parameter values holding ':', ';' or ',' are double-quoted (a DQUOTE inside becomes ');
//     VALUE and TZID come first, the others in alphabetical order, so output is stable.

const maxLineOctets = 75

// encoder writes an iCalendar stream.
type encoder struct {
	out     bytes.Buffer
	scratch []byte // one unfolded content line
}

// encode writes cal.
func encode(cal *ics.Calendar, sizeHint int) []byte {
	e := &encoder{scratch: make([]byte, 0, 512)}
	e.out.Grow(sizeHint)
	e.raw("BEGIN:VCALENDAR")
	for i := range cal.CalendarProperties {
		e.property(&cal.CalendarProperties[i].BaseProperty)
	}
	for _, c := range cal.Components {
		e.component(c)
	}
	e.raw("END:VCALENDAR")
	return e.out.Bytes()
}

func componentName(c ics.Component) string {
	switch c := c.(type) {
	case *ics.VEvent:
		return string(ics.ComponentVEvent)
	case *ics.VTimezone:
		return string(ics.ComponentVTimezone)
	case *ics.Standard:
		return string(ics.ComponentStandard)
	case *ics.Daylight:
		return string(ics.ComponentDaylight)
	case *ics.VAlarm:
		return string(ics.ComponentVAlarm)
	case *ics.VTodo:
		return string(ics.ComponentVTodo)
	case *ics.VJournal:
		return string(ics.ComponentVJournal)
	case *ics.GeneralComponent:
		return c.Token
	}
	return "X-UNKNOWN"
}

func (e *encoder) component(c ics.Component) {
	name := componentName(c)
	e.raw("BEGIN:" + name)
	props := c.UnknownPropertiesIANAProperties()
	for i := range props {
		e.property(&props[i].BaseProperty)
	}
	for _, sub := range c.SubComponents() {
		e.component(sub)
	}
	e.raw("END:" + name)
}

// raw writes a short line that needs no folding.
func (e *encoder) raw(s string) {
	e.out.WriteString(s)
	e.out.WriteString("\r\n")
}

func (e *encoder) property(p *ics.BaseProperty) {
	b := append(e.scratch[:0], p.IANAToken...)
	for _, k := range paramOrder(p.ICalParameters) {
		b = append(b, ';')
		b = append(b, k...)
		b = append(b, '=')
		for i, v := range p.ICalParameters[k] {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendParamValue(b, v)
		}
	}
	b = append(b, ':')
	if p.GetValueType() == ics.ValueDataTypeText {
		b = appendText(b, p.Value)
	} else {
		b = appendPlain(b, p.Value)
	}
	e.scratch = b
	e.fold(b)
}

// paramOrder lists parameter names: VALUE, TZID, then the rest alphabetically.
func paramOrder(m map[string][]string) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		switch k {
		case string(ics.ParameterValue):
			return 0
		case string(ics.ParameterTzid):
			return 1
		}
		return 2
	}
	slices.SortFunc(keys, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return keys
}

// fold writes one content line, folded at 75 octets without splitting a UTF-8 sequence.
func (e *encoder) fold(line []byte) {
	limit := maxLineOctets
	for len(line) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		e.out.Write(line[:cut])
		e.out.WriteString("\r\n ")
		line = line[cut:]
		limit = maxLineOctets - 1 // the leading space counts
	}
	e.out.Write(line)
	e.out.WriteString("\r\n")
}

// appendText appends a TEXT value, escaped. CRLF and CR become newlines; other controls go.
func appendText(b []byte, s string) []byte {
	s = validUTF8(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == ';':
			b = append(b, '\\', ';')
		case c == ',':
			b = append(b, '\\', ',')
		case c == '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				continue // the \n that follows writes the newline
			}
			b = append(b, '\\', 'n')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\t' || c >= 0x20 && c != 0x7f:
			b = append(b, c)
		}
	}
	return b
}

// appendPlain appends a non-TEXT value (URI, date-time, recurrence rule…) without control characters.
func appendPlain(b []byte, s string) []byte {
	s = validUTF8(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x20 && c != 0x7f {
			b = append(b, c)
		}
	}
	return b
}

// appendParamValue appends a parameter value, quoted when it holds ':', ';' or ','. RFC 5545
// allows no DQUOTE and no control character in a parameter value.
func appendParamValue(b []byte, s string) []byte {
	s = validUTF8(s)
	quote := strings.ContainsAny(s, ":;,")
	if quote {
		b = append(b, '"')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b = append(b, '\'')
		case c == '\t' || c >= 0x20 && c != 0x7f:
			b = append(b, c)
		}
	}
	if quote {
		b = append(b, '"')
	}
	return b
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
