package programme

import (
	"fmt"
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"github.com/puente-org/puente/domain"
)

// Languages Describe, Preview and FormatPair speak; anything else gets English.
const (
	LangEnglish = "en"
	LangSpanish = "es"
)

func isSpanish(lang string) bool {
	return lang == LangSpanish || strings.HasPrefix(lang, "es-") || strings.HasPrefix(lang, "es_")
}

// Describe says a rule in words, in English ("en") or Spanish ("es"): "Every 2 weeks on
// Thursday, until 17 Dec 2026" / "Cada 2 semanas los jueves, hasta el 17 dic 2026", "First
// Tuesday of every month", "Once". A rule it cannot put into words is returned as it is.
func Describe(value string, start time.Time, zone, lang string) string {
	es := isSpanish(lang)
	if value == "" {
		if es {
			return "Una vez"
		}
		return "Once"
	}
	r, err := parseRRule(value)
	if err != nil {
		return value
	}
	loc, err := loadZone(zone)
	if err != nil {
		return value
	}
	start = Floating(start)
	what, ok := r.describeRepeat(start, es)
	if !ok {
		return value
	}
	switch {
	case r.Count == 1 && es:
		what += ", una vez"
	case r.Count == 1:
		what += ", once"
	case r.Count > 0 && es:
		what += fmt.Sprintf(", %d veces", r.Count)
	case r.Count > 0:
		what += fmt.Sprintf(", %d times", r.Count)
	case r.Until != untilNone && es:
		what += ", hasta el " + shortDate(r.lastDate(start, loc), true)
	case r.Until != untilNone:
		what += ", until " + shortDate(r.lastDate(start, loc), false)
	}
	return what
}

// describeRepeat says how often the rule repeats, without its end.
func (r *parsedRule) describeRepeat(start time.Time, es bool) (string, bool) {
	n := r.Interval
	switch r.Freq {
	case rrule.DAILY:
		if r.hasByExcept() {
			return "", false
		}
		switch {
		case n == 1 && es:
			return "Todos los días", true
		case n == 1:
			return "Every day", true
		case es:
			return fmt.Sprintf("Cada %d días", n), true
		default:
			return fmt.Sprintf("Every %d days", n), true
		}
	case rrule.WEEKLY:
		if r.hasByExcept("BYDAY") {
			return "", false
		}
		var days []time.Weekday
		for _, d := range r.ByDay {
			days = append(days, d.Day)
		}
		if len(days) == 0 {
			days = []time.Weekday{start.Weekday()}
		}
		days = sortedWeekdays(days)
		names := make([]string, len(days))
		for i, d := range days {
			names[i] = weekdayName(d, es, true)
		}
		switch {
		case n == 1 && es:
			return "Todos los " + joinAnd(names, es), true
		case n == 1:
			return "Every " + joinAnd(names, es), true
		case es:
			return fmt.Sprintf("Cada %d semanas los %s", n, joinAnd(names, es)), true
		default:
			return fmt.Sprintf("Every %d weeks on %s", n, joinAnd(names, es)), true
		}
	case rrule.MONTHLY:
		every := "every month"
		if es {
			every = "cada mes"
		}
		if n > 1 {
			every = fmt.Sprintf("every %d months", n)
			if es {
				every = fmt.Sprintf("cada %d meses", n)
			}
		}
		if nth, day, ok := r.monthlyNth(); ok {
			ord, ok := ordinal(nth, es)
			if !ok {
				return "", false
			}
			if es {
				return fmt.Sprintf("El %s %s de %s", ord, weekdayName(day, true, false), every), true
			}
			return fmt.Sprintf("%s %s of %s", capitalise(ord), weekdayName(day, false, false), every), true
		}
		if r.hasByExcept("BYMONTHDAY") || len(r.ByMonthDay) > 1 {
			return "", false
		}
		day := start.Day()
		if len(r.ByMonthDay) == 1 {
			day = r.ByMonthDay[0]
		}
		switch {
		case day == -1 && es:
			return "El último día de " + every, true
		case day == -1:
			return "On the last day of " + every, true
		case day < 0:
			return "", false
		case es:
			return fmt.Sprintf("El día %d de %s", day, every), true
		default:
			return fmt.Sprintf("On day %d of %s", day, every), true
		}
	case rrule.YEARLY:
		month, day := start.Month(), start.Day()
		if r.hasByExcept("BYMONTH", "BYMONTHDAY") || len(r.ByMonth) > 1 || len(r.ByMonthDay) > 1 {
			return "", false
		}
		if len(r.ByMonth) == 1 {
			month = time.Month(r.ByMonth[0])
		}
		if len(r.ByMonthDay) == 1 {
			day = r.ByMonthDay[0]
		}
		if day < 1 {
			return "", false
		}
		switch {
		case n == 1 && es:
			return fmt.Sprintf("Cada año el %d de %s", day, monthName(month, true)), true
		case n == 1:
			return fmt.Sprintf("Every year on %d %s", day, monthName(month, false)), true
		case es:
			return fmt.Sprintf("Cada %d años el %d de %s", n, day, monthName(month, true)), true
		default:
			return fmt.Sprintf("Every %d years on %d %s", n, day, monthName(month, false)), true
		}
	}
	return "", false
}

func ordinal(n int, es bool) (string, bool) {
	if es {
		switch n {
		case 1:
			return "primer", true
		case 2:
			return "segundo", true
		case 3:
			return "tercer", true
		case 4:
			return "cuarto", true
		case 5:
			return "quinto", true
		case -1:
			return "último", true
		}
		return "", false
	}
	switch n {
	case 1:
		return "first", true
	case 2:
		return "second", true
	case 3:
		return "third", true
	case 4:
		return "fourth", true
	case 5:
		return "fifth", true
	case -1:
		return "last", true
	}
	return "", false
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// joinAnd joins words as "a, b and c" / "a, b y c".
func joinAnd(words []string, es bool) string {
	and := " and "
	if es {
		and = " y "
	}
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + and + words[len(words)-1]
}

// weekdayName is the weekday's full name; in Spanish lower-case, plural when asked ("los jueves").
func weekdayName(d time.Weekday, es, plural bool) string {
	if !es {
		return d.String()
	}
	name := [7]string{"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"}[d]
	if plural && (d == time.Saturday || d == time.Sunday) {
		name += "s"
	}
	return name
}

func weekdayShort(d time.Weekday, es bool) string {
	if es {
		return [7]string{"dom", "lun", "mar", "mié", "jue", "vie", "sáb"}[d]
	}
	return d.String()[:3]
}

func monthName(m time.Month, es bool) string {
	if es {
		return [12]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
			"septiembre", "octubre", "noviembre", "diciembre"}[m-1]
	}
	return m.String()
}

func monthShort(m time.Month, es bool) string {
	if es {
		return [12]string{"ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"}[m-1]
	}
	return m.String()[:3]
}

// shortDate formats a date as "17 Dec 2026" / "17 dic 2026".
func shortDate(t time.Time, es bool) string {
	return fmt.Sprintf("%d %s %d", t.Day(), monthShort(t.Month(), es), t.Year())
}

// dayMonth formats a date as "Thu 12 Feb" / "jue 12 feb".
func dayMonth(t time.Time, es bool) string {
	return fmt.Sprintf("%s %d %s", weekdayShort(t.Weekday(), es), t.Day(), monthShort(t.Month(), es))
}

// PreviewItem is one upcoming meeting as the series form shows it.
type PreviewItem struct {
	Start   time.Time // the instant, in the series' zone
	InZone  string    // "Thu 12 Feb 2026, 15:00 GMT" (in the series' zone)
	InOther string    // "12:00 -03" in the other zone ("" when none); the date is added when it differs
}

// MaxPreview is the most items Preview returns.
const MaxPreview = 100

// Preview validates the rule and lists its next n meetings (n <= 0: 10) starting at or after
// from, in the series' zone and in the zone other ("" for none). An unknown other zone is a
// *domain.Error for field "other_timezone"; a rule Validate refuses gives Validate's error.
func Preview(r Rule, other string, from time.Time, n int, lang string) ([]PreviewItem, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var oloc *time.Location
	if other != "" {
		var err error
		if oloc, err = loadZone(other); err != nil {
			de, _ := domain.AsError(err)
			return nil, de.WithField("other_timezone")
		}
	}
	if n <= 0 {
		n = 10
	}
	n = min(n, MaxPreview)
	insts, err := r.Expand(from, from.AddDate(MaxYear-MinYear, 0, 0), n)
	if err != nil {
		return nil, err
	}
	es := isSpanish(lang)
	out := make([]PreviewItem, len(insts))
	for i, in := range insts {
		s := in.Start
		out[i] = PreviewItem{
			Start:  s,
			InZone: fmt.Sprintf("%s %d, %s", dayMonth(s, es), s.Year(), clockZone(s)),
		}
		if oloc != nil {
			o := s.In(oloc)
			out[i].InOther = clockZone(o)
			if dateOf(Floating(o)) != dateOf(Floating(s)) {
				out[i].InOther += " (" + dayMonth(o, es) + ")"
			}
		}
	}
	return out, nil
}

// clockZone formats "15:00 GMT" / "12:00 -03".
func clockZone(t time.Time) string {
	name, _ := t.Zone()
	return t.Format("15:04") + " " + name
}

// FormatPair shows an instant as "15:00 London · 11:00 your time" (English) or
// "15:00 Londres · 11:00 tu hora" (Spanish): first in the series' zone, then in the viewer's.
// When both zones read the same clock at t, it shows only "15:00 your time"; when the viewer's
// date differs, it is added ("08:00 your time (Fri 13 Feb)"). A nil viewerZone shows only the
// series' time; a nil seriesZone means t's own location.
func FormatPair(t time.Time, seriesZone, viewerZone *time.Location, lang string) string {
	es := isSpanish(lang)
	if seriesZone == nil {
		seriesZone = t.Location()
	}
	s := t.In(seriesZone)
	if viewerZone == nil {
		return s.Format("15:04") + " " + CityName(seriesZone.String(), lang)
	}
	yours := " your time"
	if es {
		yours = " tu hora"
	}
	v := t.In(viewerZone)
	viewer := v.Format("15:04") + yours
	if dateOf(Floating(v)) != dateOf(Floating(s)) {
		viewer += " (" + dayMonth(v, es) + ")"
	}
	_, so := s.Zone()
	_, vo := v.Zone()
	if so == vo {
		return viewer
	}
	return s.Format("15:04") + " " + CityName(seriesZone.String(), lang) + " · " + viewer
}

// CityName names a zone by its city, as people know it: "Europe/London" → "London" (Spanish
// "Londres"), "America/Argentina/Buenos_Aires" → "Buenos Aires". UTC and Etc zones keep their
// name.
func CityName(zone, lang string) string {
	if zone == "" || zone == "UTC" || zone == "Local" || strings.HasPrefix(zone, "Etc/") || !strings.Contains(zone, "/") {
		return strings.TrimPrefix(zone, "Etc/")
	}
	city := strings.ReplaceAll(zone[strings.LastIndex(zone, "/")+1:], "_", " ")
	if isSpanish(lang) {
		if es := spanishCity(city); es != "" {
			return es
		}
	}
	return englishCity(city)
}

// englishCity restores the accents tz names leave out, where English keeps them.
func englishCity(city string) string {
	switch city {
	case "Bogota":
		return "Bogotá"
	case "Sao Paulo":
		return "São Paulo"
	case "Asuncion":
		return "Asunción"
	}
	return city
}

// spanishCity is the Spanish name of a tz city, where it differs from the English one.
func spanishCity(city string) string {
	switch city {
	case "London":
		return "Londres"
	case "New York":
		return "Nueva York"
	case "Mexico City":
		return "Ciudad de México"
	case "Bogota":
		return "Bogotá"
	case "Asuncion":
		return "Asunción"
	case "Sao Paulo":
		return "São Paulo"
	case "Cordoba":
		return "Córdoba"
	case "Tucuman":
		return "Tucumán"
	case "Havana":
		return "La Habana"
	case "Panama":
		return "Panamá"
	case "Paris":
		return "París"
	case "Berlin":
		return "Berlín"
	case "Brussels":
		return "Bruselas"
	case "Lisbon":
		return "Lisboa"
	case "Rome":
		return "Roma"
	case "Amsterdam":
		return "Ámsterdam"
	case "Dublin":
		return "Dublín"
	case "Copenhagen":
		return "Copenhague"
	case "Stockholm":
		return "Estocolmo"
	case "Vienna":
		return "Viena"
	case "Zurich":
		return "Zúrich"
	case "Warsaw":
		return "Varsovia"
	case "Prague":
		return "Praga"
	case "Athens":
		return "Atenas"
	case "Moscow":
		return "Moscú"
	case "Cairo":
		return "El Cairo"
	case "Tokyo":
		return "Tokio"
	case "Shanghai":
		return "Shanghái"
	case "Canary":
		return "Canarias"
	}
	return ""
}
