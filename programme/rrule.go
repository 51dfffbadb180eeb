package programme

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"github.com/puente-org/puente/domain"
)

// Limits on what a rule may say.
const (
	MaxInterval = 1000 // largest INTERVAL
	MaxCount    = 1000 // largest COUNT
)

// untilKind says how a rule's UNTIL was written.
type untilKind int

const (
	untilNone untilKind = iota
	untilUTC            // 20261217T235959Z: an instant
	untilDate           // 20261217: the end of that local day
)

// dayNum is one BYDAY entry: a weekday, optionally with an ordinal (1TU, -1FR).
type dayNum struct {
	Day time.Weekday
	N   int // 0 = every such day in the period
}

// parsedRule is an RRULE value, checked and taken apart.
type parsedRule struct {
	Freq       rrule.Frequency
	Interval   int // 1 when not given
	Count      int // 0 when not given
	Until      untilKind
	UntilUTC   time.Time // the instant, when Until == untilUTC
	UntilDate  time.Time // the local date (wall midnight), when Until == untilDate
	Wkst       time.Weekday
	HasWkst    bool
	ByDay      []dayNum
	ByMonthDay []int
	ByMonth    []int
	ByYearDay  []int
	ByWeekNo   []int
	BySetPos   []int
	ByHour     []int
	ByMinute   []int
}

// hasBy reports whether any BYxxx part other than those named is present.
func (p *parsedRule) hasByExcept(names ...string) bool {
	parts := map[string]bool{
		"BYDAY": len(p.ByDay) > 0, "BYMONTHDAY": len(p.ByMonthDay) > 0, "BYMONTH": len(p.ByMonth) > 0,
		"BYYEARDAY": len(p.ByYearDay) > 0, "BYWEEKNO": len(p.ByWeekNo) > 0, "BYSETPOS": len(p.BySetPos) > 0,
		"BYHOUR": len(p.ByHour) > 0, "BYMINUTE": len(p.ByMinute) > 0,
	}
	for k, v := range parts {
		if v && !slices.Contains(names, k) {
			return true
		}
	}
	return false
}

// untilWall returns the rule's UNTIL as a wall time in loc (zero when there is none): an
// instant is read on loc's clocks; a date means the last second of that local day.
func (p *parsedRule) untilWall(loc *time.Location) time.Time {
	switch p.Until {
	case untilUTC:
		return WallIn(p.UntilUTC, loc)
	case untilDate:
		return p.UntilDate.Add(24*time.Hour - time.Second)
	}
	return time.Time{}
}

// weekdayCode is RFC 5545's two-letter code for d (which must be a valid weekday).
func weekdayCode(d time.Weekday) string {
	return [7]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}[d]
}

func parseWeekdayCode(s string) (time.Weekday, bool) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if weekdayCode(d) == s {
			return d, true
		}
	}
	return 0, false
}

// rruleErr makes an error for field "rrule" with message id and name/value arguments; text
// quoted from the rule is cut short.
func rruleErr(id string, args ...any) *domain.Error {
	for i := 1; i < len(args); i += 2 {
		if s, ok := args[i].(string); ok {
			args[i] = domain.Clip(s)
		}
	}
	return domain.Invalid("rrule", id, args...)
}

// parseRRule checks and takes apart an RRULE value (without the "RRULE:" prefix). Names and
// values are case-insensitive, as RFC 5545 says. Errors are *domain.Error for field "rrule".
func parseRRule(value string) (*parsedRule, error) {
	if value == "" {
		return nil, rruleErr("err.rrule.empty")
	}
	if len(value) > 1000 {
		return nil, rruleErr("err.rrule.too_long")
	}
	for _, c := range value {
		if c <= ' ' || c == 0x7f || c > 0x7e {
			return nil, rruleErr("err.rrule.characters")
		}
	}
	v := strings.ToUpper(value)
	if strings.HasPrefix(v, "RRULE:") {
		return nil, rruleErr("err.rrule.prefix")
	}
	if strings.HasPrefix(v, "DTSTART") {
		return nil, rruleErr("err.rrule.dtstart")
	}
	p := &parsedRule{Interval: 1, Wkst: time.Monday}
	seen := map[string]bool{}
	for _, part := range strings.Split(v, ";") {
		if part == "" {
			return nil, rruleErr("err.rrule.empty_part")
		}
		key, val, ok := strings.Cut(part, "=")
		if !ok || key == "" {
			return nil, rruleErr("err.rrule.not_name_value", "Part", part)
		}
		if val == "" {
			return nil, rruleErr("err.rrule.no_value", "Key", key)
		}
		if seen[key] {
			return nil, rruleErr("err.rrule.twice", "Key", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "FREQ":
			err = p.parseFreq(val)
		case "INTERVAL":
			p.Interval, err = parseIntIn(key, val, 1, MaxInterval, false)
		case "COUNT":
			n, e := strconv.Atoi(val)
			switch {
			case e != nil:
				err = rruleErr("err.rrule.count_number", "Value", val)
			case n < 1:
				err = rruleErr("err.rrule.count_min")
			case n > MaxCount:
				err = rruleErr("err.rrule.count_max", "N", n, "Max", MaxCount)
			}
			p.Count = n
		case "UNTIL":
			err = p.parseUntil(val)
		case "WKST":
			d, ok := parseWeekdayCode(val)
			if !ok {
				err = rruleErr("err.rrule.wkst", "Value", val)
			}
			p.Wkst, p.HasWkst = d, true
		case "BYDAY":
			p.ByDay, err = parseByDay(val)
		case "BYMONTHDAY":
			p.ByMonthDay, err = parseIntList(key, val, 1, 31, true)
		case "BYMONTH":
			p.ByMonth, err = parseIntList(key, val, 1, 12, false)
		case "BYYEARDAY":
			p.ByYearDay, err = parseIntList(key, val, 1, 366, true)
		case "BYWEEKNO":
			p.ByWeekNo, err = parseIntList(key, val, 1, 53, true)
		case "BYSETPOS":
			p.BySetPos, err = parseIntList(key, val, 1, 366, true)
		case "BYHOUR":
			p.ByHour, err = parseIntList(key, val, 0, 23, false)
		case "BYMINUTE":
			p.ByMinute, err = parseIntList(key, val, 0, 59, false)
		case "BYSECOND":
			err = rruleErr("err.rrule.bysecond")
		case "DTSTART":
			err = rruleErr("err.rrule.dtstart")
		case "TZID":
			err = rruleErr("err.rrule.tzid")
		default:
			err = rruleErr("err.rrule.unknown_part", "Key", key)
		}
		if err != nil {
			return nil, err
		}
	}
	if !seen["FREQ"] {
		return nil, rruleErr("err.rrule.no_freq")
	}
	if p.Count > 0 && p.Until != untilNone {
		return nil, rruleErr("err.rrule.until_and_count")
	}
	// Combinations RFC 5545 forbids.
	for _, d := range p.ByDay {
		if d.N != 0 && p.Freq != rrule.MONTHLY && p.Freq != rrule.YEARLY {
			return nil, rruleErr("err.rrule.byday_numbered_freq", "Day", d.String())
		}
		if d.N != 0 && p.Freq == rrule.YEARLY && len(p.ByWeekNo) > 0 {
			return nil, rruleErr("err.rrule.byday_numbered_weekno", "Day", d.String())
		}
		if d.N != 0 && p.Freq == rrule.MONTHLY && (d.N > 5 || d.N < -5) {
			return nil, rruleErr("err.rrule.byday_month_max", "Day", d.String())
		}
	}
	if len(p.ByMonthDay) > 0 && p.Freq == rrule.WEEKLY {
		return nil, rruleErr("err.rrule.bymonthday_weekly")
	}
	if len(p.ByYearDay) > 0 && p.Freq != rrule.YEARLY {
		return nil, rruleErr("err.rrule.byyearday")
	}
	if len(p.ByWeekNo) > 0 && p.Freq != rrule.YEARLY {
		return nil, rruleErr("err.rrule.byweekno")
	}
	if len(p.BySetPos) > 0 && !p.hasByExcept("BYSETPOS") {
		return nil, rruleErr("err.rrule.bysetpos")
	}
	return p, nil
}

func (p *parsedRule) parseFreq(val string) error {
	switch val {
	case "DAILY":
		p.Freq = rrule.DAILY
	case "WEEKLY":
		p.Freq = rrule.WEEKLY
	case "MONTHLY":
		p.Freq = rrule.MONTHLY
	case "YEARLY":
		p.Freq = rrule.YEARLY
	case "HOURLY", "MINUTELY", "SECONDLY":
		return rruleErr("err.rrule.freq_too_often", "Value", val)
	default:
		return rruleErr("err.rrule.freq", "Value", val)
	}
	return nil
}

func (p *parsedRule) parseUntil(val string) error {
	if t, err := time.Parse("20060102", val); err == nil && len(val) == 8 {
		p.Until, p.UntilDate = untilDate, t
		return checkUntilYear(t)
	}
	if t, err := time.Parse("20060102T150405Z", val); err == nil && len(val) == 16 {
		p.Until, p.UntilUTC = untilUTC, t
		return checkUntilYear(t)
	}
	if _, err := time.Parse("20060102T150405", val); err == nil && len(val) == 15 {
		return rruleErr("err.rrule.until_utc", "Value", val)
	}
	return rruleErr("err.rrule.until_format", "Value", val)
}

func checkUntilYear(t time.Time) error {
	if t.Year() > MaxYear {
		return rruleErr("err.rrule.until_year", "Year", MaxYear)
	}
	return nil
}

func (d dayNum) String() string {
	if d.N == 0 {
		return weekdayCode(d.Day)
	}
	return strconv.Itoa(d.N) + weekdayCode(d.Day)
}

func parseByDay(val string) ([]dayNum, error) {
	var out []dayNum
	for _, s := range strings.Split(val, ",") {
		if len(s) < 2 {
			return nil, rruleErr("err.rrule.byday_day", "Value", s)
		}
		d, ok := parseWeekdayCode(s[len(s)-2:])
		if !ok {
			return nil, rruleErr("err.rrule.byday_day", "Value", s)
		}
		n := 0
		if num := s[:len(s)-2]; num != "" {
			var err error
			n, err = strconv.Atoi(num)
			if err != nil || n == 0 || n > 53 || n < -53 || strings.HasPrefix(num, "0") || strings.HasPrefix(num, "+0") || strings.HasPrefix(num, "-0") {
				return nil, rruleErr("err.rrule.byday_number", "Value", s)
			}
		}
		dn := dayNum{Day: d, N: n}
		if slices.Contains(out, dn) {
			return nil, rruleErr("err.rrule.byday_twice", "Day", dn.String())
		}
		out = append(out, dn)
	}
	return out, nil
}

func parseIntIn(key, val string, lo, hi int, signed bool) (int, error) {
	n, err := strconv.Atoi(val)
	if err != nil || len(val) > 6 {
		return 0, rruleErr("err.rrule.number", "Key", key, "Value", val)
	}
	if signed {
		if n == 0 || n > hi || n < -hi || (n > 0 && n < lo) || (n < 0 && -n < lo) {
			return 0, rruleErr("err.rrule.range_signed", "Key", key, "Lo", lo, "Hi", hi, "N", n)
		}
		return n, nil
	}
	if n < lo || n > hi {
		return 0, rruleErr("err.rrule.range", "Key", key, "Lo", lo, "Hi", hi, "N", n)
	}
	return n, nil
}

func parseIntList(key, val string, lo, hi int, signed bool) ([]int, error) {
	var out []int
	for _, s := range strings.Split(val, ",") {
		n, err := parseIntIn(key, s, lo, hi, signed)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, n) {
			return nil, rruleErr("err.rrule.list_twice", "Key", key, "N", n)
		}
		out = append(out, n)
	}
	return out, nil
}

// String writes the rule in canonical form: FREQ first, INTERVAL only when above 1, the BY parts,
// WKST when not Monday, then COUNT or UNTIL; UNTIL is written as given (a date or a UTC time).
func (p *parsedRule) String() string {
	parts := []string{"FREQ=" + p.Freq.String()}
	if p.Interval > 1 {
		parts = append(parts, "INTERVAL="+strconv.Itoa(p.Interval))
	}
	ints := func(key string, xs []int) {
		if len(xs) == 0 {
			return
		}
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = strconv.Itoa(x)
		}
		parts = append(parts, key+"="+strings.Join(s, ","))
	}
	ints("BYMONTH", p.ByMonth)
	ints("BYWEEKNO", p.ByWeekNo)
	ints("BYYEARDAY", p.ByYearDay)
	ints("BYMONTHDAY", p.ByMonthDay)
	if len(p.ByDay) > 0 {
		s := make([]string, len(p.ByDay))
		for i, d := range p.ByDay {
			s[i] = d.String()
		}
		parts = append(parts, "BYDAY="+strings.Join(s, ","))
	}
	ints("BYHOUR", p.ByHour)
	ints("BYMINUTE", p.ByMinute)
	ints("BYSETPOS", p.BySetPos)
	if p.HasWkst && p.Wkst != time.Monday {
		parts = append(parts, "WKST="+weekdayCode(p.Wkst))
	}
	if p.Count > 0 {
		parts = append(parts, "COUNT="+strconv.Itoa(p.Count))
	}
	switch p.Until {
	case untilUTC:
		parts = append(parts, "UNTIL="+p.UntilUTC.UTC().Format("20060102T150405Z"))
	case untilDate:
		parts = append(parts, "UNTIL="+p.UntilDate.Format("20060102"))
	}
	return strings.Join(parts, ";")
}

// CanonicalRRule tidies an RRULE value typed by a person and writes it the way Puente stores it:
// spaces and an "RRULE:" prefix removed, names upper-case, FREQ first, and UNTIL in UTC (a date
// UNTIL becomes the end of that local day in zone, 23:59:59 local, as calendar clients expect).
// "" stays "" (a single event). Errors are *domain.Error for field "rrule" (or "timezone").
func CanonicalRRule(value, zone string) (string, error) {
	v := strings.Join(strings.Fields(value), "")
	if len(v) >= 6 && strings.EqualFold(v[:6], "RRULE:") {
		v = v[6:]
	}
	v = strings.Trim(v, ";")
	if v == "" {
		return "", nil
	}
	p, err := parseRRule(v)
	if err != nil {
		return "", err
	}
	if p.Until == untilDate {
		loc, err := loadZone(zone)
		if err != nil {
			return "", err
		}
		p.Until, p.UntilUTC = untilUTC, endOfLocalDay(p.UntilDate, loc)
	}
	return p.String(), nil
}

// endOfLocalDay returns the instant (UTC) of 23:59:59 on the local date of wall in loc.
func endOfLocalDay(wall time.Time, loc *time.Location) time.Time {
	end := time.Date(wall.Year(), wall.Month(), wall.Day(), 23, 59, 59, 0, time.UTC)
	return ResolveLenient(loc, end).UTC()
}

// options turns the rule into rrule-go options for floating expansion from the wall time start,
// ending at the wall time until (inclusive; zero = no end).
func (p *parsedRule) options(start, until time.Time) rrule.ROption {
	o := rrule.ROption{
		Freq:       p.Freq,
		Dtstart:    start,
		Interval:   p.Interval,
		Wkst:       goWeekday(p.Wkst),
		Count:      p.Count,
		Until:      until,
		Bysetpos:   p.BySetPos,
		Bymonth:    p.ByMonth,
		Bymonthday: p.ByMonthDay,
		Byyearday:  p.ByYearDay,
		Byweekno:   p.ByWeekNo,
		Byhour:     p.ByHour,
		Byminute:   p.ByMinute,
	}
	for _, d := range p.ByDay {
		w := goWeekday(d.Day)
		o.Byweekday = append(o.Byweekday, w.Nth(d.N))
	}
	return o
}

// goWeekday maps a time.Weekday to rrule-go's weekday.
func goWeekday(d time.Weekday) rrule.Weekday {
	return [7]rrule.Weekday{rrule.SU, rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA}[d]
}
