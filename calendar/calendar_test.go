package calendar

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ics "github.com/arran4/golang-ical"

	"github.com/puente-org/puente/domain"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// feedCase is one calendar the tests build, with what a client should make of it.
type feedCase struct {
	name   string
	data   []byte
	want   []instance // over [from, to)
	public bool
	zones  []string // the TZIDs it must declare
}

var (
	rangeFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rangeTo   = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
)

func buildCases(t testing.TB) []feedCase {
	t.Helper()
	series, conf := londonSeries(t), santiagoConference(t)
	items := personalItems(t)
	so, co, po, xo := testOptions("/series/battery-materials.ics"), testOptions("/conferences/lithium-triangle-2026.ics"),
		testOptions("/me/5d41402abc4b2a76/calendar.ics"), testOptions("/programme.ics")
	xo.Name = "Puente: programme"
	s, err := SeriesFeed(series, so)
	if err != nil {
		t.Fatal(err)
	}
	c, err := SeriesFeed(conf, co)
	if err != nil {
		t.Fatal(err)
	}
	p, err := PersonalFeed(items, po)
	if err != nil {
		t.Fatal(err)
	}
	x, err := ProgrammeFeed([]EventData{series, conf}, xo)
	if err != nil {
		t.Fatal(err)
	}
	moved := *findOcc(t, series.Occurrences, 2026, 3, 19)
	oc, err := OccurrenceICS(series.Event, moved, "", testOptions(""))
	if err != nil {
		t.Fatal(err)
	}
	ocWant := expected(t, []EventData{{Event: series.Event, Occurrences: []domain.Occurrence{moved}}}, so, moved.Start, moved.End)
	return []feedCase{
		{"series", s, expected(t, []EventData{series}, so, rangeFrom, rangeTo), true, []string{"Europe/London"}},
		{"conference", c, expected(t, []EventData{conf}, co, rangeFrom, rangeTo), true, []string{"America/Santiago"}},
		{"personal", p, expectedPersonal(items, po), false, []string{"Europe/London", "America/Santiago"}},
		{"programme", x, expected(t, []EventData{series, conf}, xo, rangeFrom, rangeTo), true, []string{"Europe/London", "America/Santiago"}},
		{"occurrence", oc, ocWant, true, []string{"Europe/London"}},
	}
}

func TestGolden(t *testing.T) {
	for _, fc := range buildCases(t) {
		path := filepath.Join("testdata", fc.name+".ics")
		if *update {
			if err := os.WriteFile(path, fc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./calendar -run TestGolden -update)", err)
		}
		if !bytes.Equal(fc.data, want) {
			t.Errorf("%s differs from %s (run with -update after checking the change):\n%s", fc.name, path, firstDiff(fc.data, want))
		}
	}
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\r\n"), strings.Split(string(want), "\r\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n got  " + a + "\n want " + b
		}
	}
	return "(line ends differ)"
}

// TestRoundTrip reads every feed back with golang-ical, expands it with rrule-go through its own
// VTIMEZONEs, and compares each occurrence with what the inputs say; the London seminar is also
// checked against calendar.md's table from four zones.
func TestRoundTrip(t *testing.T) {
	for _, fc := range buildCases(t) {
		t.Run(fc.name, func(t *testing.T) {
			f := parseFeed(t, fc.data)
			from, to := rangeFrom, rangeTo
			if fc.name == "occurrence" && len(fc.want) == 1 {
				s, _ := time.Parse(time.RFC3339, fc.want[0].Start)
				e, _ := time.Parse(time.RFC3339, fc.want[0].End)
				from, to = s, e
			}
			got := f.expand(t, from, to)
			compareInstances(t, fc.name, got, fc.want)
			if len(fc.want) == 0 {
				t.Fatal("nothing to compare")
			}
			for _, z := range fc.zones {
				if f.zones[z] == nil {
					t.Errorf("no VTIMEZONE for %s", z)
				}
			}
			if fc.name == "series" {
				n := checkTable(t, "golang-ical+rrule-go", got, map[string]bool{"20260319T150000": true})
				if n != 51 {
					t.Errorf("checked %d occurrences against the table, want 51 (52 Thursdays, one moved)", n)
				}
			}
		})
	}
}

var (
	reDateTime = regexp.MustCompile(`^(DTSTART|DTEND|RECURRENCE-ID|EXDATE|RDATE)(;[^:]*)?:(.*)$`)
	reUID      = regexp.MustCompile(`^(series|occurrence)-\d+@puente\.example$`)
)

// unfold splits a feed into content lines, checking CRLF line ends and the 75-octet limit.
func unfold(t testing.TB, data []byte) []string {
	t.Helper()
	if !bytes.HasSuffix(data, []byte("\r\n")) {
		t.Error("the feed does not end with CRLF")
	}
	if bytes.Count(data, []byte("\n")) != bytes.Count(data, []byte("\r\n")) {
		t.Error("a line ends with a bare LF")
	}
	if !utf8.Valid(data) {
		t.Error("the feed is not valid UTF-8")
	}
	var lines []string
	for i, l := range strings.Split(strings.TrimSuffix(string(data), "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("line %d has %d octets: %q", i+1, len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Errorf("line %d splits a UTF-8 sequence: %q", i+1, l)
		}
		if strings.HasPrefix(l, " ") {
			if len(lines) == 0 {
				t.Fatal("the feed starts with a continuation line")
			}
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// TestChecklist checks calendar.md's list on every feed.
func TestChecklist(t *testing.T) {
	for _, fc := range buildCases(t) {
		t.Run(fc.name, func(t *testing.T) {
			lines := unfold(t, fc.data)
			has := func(l string) bool {
				for _, x := range lines {
					if x == l {
						return true
					}
				}
				return false
			}
			count := func(prefix string) int {
				n := 0
				for _, x := range lines {
					if strings.HasPrefix(x, prefix) {
						n++
					}
				}
				return n
			}
			header := 0
			for i, l := range lines {
				if strings.HasPrefix(l, "BEGIN:V") && i > 0 {
					header = i
					break
				}
			}
			countHeader := func(prefix string) int {
				n := 0
				for _, x := range lines[:header] {
					if strings.HasPrefix(x, prefix) {
						n++
					}
				}
				return n
			}
			head := []string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:" + ProdID, "METHOD:PUBLISH"}
			for i, h := range head {
				if lines[i] != h {
					t.Errorf("line %d is %q, want %q", i+1, lines[i], h)
				}
			}
			feed := fc.name != "occurrence"
			if feed {
				for _, p := range []string{"NAME:", "X-WR-CALNAME:", "URL:https://puente.example/", "REFRESH-INTERVAL;VALUE=DURATION:PT6H", "X-PUBLISHED-TTL:PT6H"} {
					if countHeader(p) != 1 {
						t.Errorf("%d header lines start with %q, want 1", countHeader(p), p)
					}
				}
			}
			// X-WR-TIMEZONE only when every event is in that one zone.
			switch n := countHeader("X-WR-TIMEZONE:"); {
			case feed && len(fc.zones) == 1:
				if !has("X-WR-TIMEZONE:" + fc.zones[0]) {
					t.Errorf("no X-WR-TIMEZONE:%s", fc.zones[0])
				}
			case n != 0:
				t.Errorf("X-WR-TIMEZONE in a feed of %d zones", len(fc.zones))
			}
			// One VTIMEZONE for each zone used, and no floating time.
			for _, z := range fc.zones {
				if c := count("TZID:" + z); c != 1 {
					t.Errorf("%d VTIMEZONEs for %s, want 1", c, z)
				}
			}
			if c := count("BEGIN:VTIMEZONE"); c != len(fc.zones) {
				t.Errorf("%d VTIMEZONEs, want %d", c, len(fc.zones))
			}
			inEvent := false
			var uid string
			seen := map[string]bool{}
			for _, l := range lines {
				switch {
				case l == "BEGIN:VEVENT":
					inEvent, uid, seen = true, "", map[string]bool{}
				case l == "END:VEVENT":
					for _, p := range []string{"UID", "DTSTAMP", "SEQUENCE", "LAST-MODIFIED", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION", "URL", "STATUS"} {
						if !seen[p] {
							t.Errorf("VEVENT %s has no %s", uid, p)
						}
					}
					inEvent = false
				case inEvent:
					name := l[:strings.IndexAny(l, ":;")]
					seen[name] = true
					if v, ok := strings.CutPrefix(l, "UID:"); ok {
						uid = v
						if !reUID.MatchString(v) {
							t.Errorf("UID %q", v)
						}
					}
					if v, ok := strings.CutPrefix(l, "SEQUENCE:"); ok {
						if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 1000 {
							t.Errorf("SEQUENCE %q is not a small integer", v)
						}
					}
					if m := reDateTime.FindStringSubmatch(l); m != nil && !strings.HasSuffix(m[3], "Z") && !strings.Contains(m[2], "TZID=") {
						t.Errorf("floating time: %s", l)
					}
				}
			}
		})
	}
}

func TestCancelledKept(t *testing.T) {
	for _, fc := range buildCases(t) {
		if fc.name == "occurrence" || fc.name == "conference" {
			continue
		}
		lines := unfold(t, fc.data)
		if !strings.Contains(strings.Join(lines, "\n"), "STATUS:CANCELLED") {
			t.Errorf("%s: the cancelled occurrence is not kept with STATUS:CANCELLED", fc.name)
		}
		if !strings.Contains(strings.Join(lines, "\n"), `DESCRIPTION:Cancelled: The speaker is unwell\; we will reschedule\, sorry!`) {
			t.Errorf("%s: the cancel reason is not in DESCRIPTION", fc.name)
		}
	}
}

// TestJoinLinks: the personal feed carries each join link in CONFERENCE, URL and DESCRIPTION;
// public feeds carry none.
func TestJoinLinks(t *testing.T) {
	for _, fc := range buildCases(t) {
		text := strings.Join(unfold(t, fc.data), "\n")
		if fc.public {
			if strings.Contains(text, "/join/") || strings.Contains(text, "CONFERENCE") {
				t.Errorf("%s: a public feed contains a join link", fc.name)
			}
			continue
		}
		for _, link := range []string{joinSeries, joinSession} {
			for _, want := range []string{
				"CONFERENCE;VALUE=URI;FEATURE=AUDIO,VIDEO;LABEL=Join online:" + link,
				"URL:" + link,
				`\n\nJoin: ` + link + `\n\n`,
			} {
				if !strings.Contains(text, want) {
					t.Errorf("%s: no %q", fc.name, want)
				}
			}
		}
		// The cancelled talk keeps no join link.
		f := parseFeed(t, fc.data)
		for _, ev := range f.events {
			if prop(&ev.ComponentBase, "STATUS") == "CANCELLED" && strings.Contains(prop(&ev.ComponentBase, "DESCRIPTION"), "/join/") {
				t.Errorf("%s: cancelled %s has a join link", fc.name, ev.Id())
			}
		}
	}
	// The download of one occurrence with a join link (the email attachment) has it too.
	s := londonSeries(t)
	b, err := OccurrenceICS(s.Event, *findOcc(t, s.Occurrences, 2026, 3, 12), joinSeries, testOptions(""))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(unfold(t, b), "\n")
	for _, want := range []string{"CONFERENCE;VALUE=URI;FEATURE=AUDIO,VIDEO;LABEL=Join online:" + joinSeries, "URL:" + joinSeries,
		"UID:series-42@puente.example", "RECURRENCE-ID;TZID=Europe/London:20260312T150000"} {
		if !strings.Contains(text, want) {
			t.Errorf("OccurrenceICS: no %q", want)
		}
	}
}

// sequences maps every occurrence (UID + RECURRENCE-ID) of a series feed to the SEQUENCE a client
// holds for it: the override's, or else the master's.
func sequences(t *testing.T, data []byte) (map[string]int, map[string]bool) {
	t.Helper()
	f := parseFeed(t, data)
	seq := func(ev *ics.VEvent) int {
		n, err := strconv.Atoi(prop(&ev.ComponentBase, "SEQUENCE"))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	out := map[string]int{}
	uids := map[string]bool{}
	for _, in := range f.expand(t, rangeFrom, rangeTo) {
		out[in.UID+" "+in.RecurrenceID] = -1
		uids[in.UID] = true
	}
	masters := map[string]int{}
	for _, ev := range f.events {
		if ev.GetProperty(ics.ComponentPropertyRecurrenceId) == nil {
			masters[ev.Id()] = seq(ev)
		}
	}
	for k := range out {
		out[k] = masters[strings.Fields(k)[0]]
	}
	for _, ev := range f.events {
		if rid := ev.GetProperty(ics.ComponentPropertyRecurrenceId); rid != nil {
			out[ev.Id()+" "+rid.Value] = seq(ev)
		}
	}
	return out, uids
}

// TestChangeScenario: move one occurrence and cancel another; the fingerprint changes, SEQUENCE
// grows for exactly those two, and no UID changes.
func TestChangeScenario(t *testing.T) {
	d := londonSeries(t)
	o := testOptions("/series/battery-materials.ics")
	before, err := SeriesFeed(d, o)
	if err != nil {
		t.Fatal(err)
	}
	fp := Fingerprint([]EventData{d}, o)
	later := testNow.Add(-time.Hour)
	move(t, d.Event, findOcc(t, d.Occurrences, 2026, 6, 11), wall(2026, 6, 11, 16, 30), later)
	cancel(findOcc(t, d.Occurrences, 2026, 10, 1), "Strike; no rooms.", later)
	after, err := SeriesFeed(d, o)
	if err != nil {
		t.Fatal(err)
	}
	if fp2 := Fingerprint([]EventData{d}, o); fp2 == fp {
		t.Error("the fingerprint did not change")
	}
	if got := LastModified([]EventData{d}); !got.Equal(later) {
		t.Errorf("LastModified %v, want %v", got, later)
	}
	s1, u1 := sequences(t, before)
	s2, u2 := sequences(t, after)
	if len(u1) != 1 || len(u2) != 1 || !u1["series-42@puente.example"] || !u2["series-42@puente.example"] {
		t.Errorf("UIDs changed: %v → %v", u1, u2)
	}
	changed := map[string]bool{"series-42@puente.example 20260611T150000": true, "series-42@puente.example 20261001T150000": true}
	if len(s1) != len(s2) || len(s1) != 52 {
		t.Errorf("%d and %d occurrences, want 52", len(s1), len(s2))
	}
	for k, a := range s1 {
		b, ok := s2[k]
		switch {
		case !ok:
			t.Errorf("%s disappeared", k)
		case changed[k] && b <= a:
			t.Errorf("%s changed but SEQUENCE %d → %d", k, a, b)
		case !changed[k] && b != a:
			t.Errorf("%s did not change but SEQUENCE %d → %d", k, a, b)
		}
	}
	// An edit of the event itself raises the SEQUENCE of every occurrence.
	d.Event.Sequence++
	d.Event.UpdatedAt = testNow
	third, err := SeriesFeed(d, o)
	if err != nil {
		t.Fatal(err)
	}
	s3, _ := sequences(t, third)
	for k, b := range s2 {
		if s3[k] <= b {
			t.Errorf("after an event edit, %s SEQUENCE %d → %d", k, b, s3[k])
		}
	}
}

func TestFingerprint(t *testing.T) {
	d := []EventData{londonSeries(t), santiagoConference(t)}
	o := testOptions("/programme.ics")
	base := Fingerprint(d, o)
	if len(base) != 64 {
		t.Errorf("fingerprint %q", base)
	}
	same := o
	same.Now = o.Now.Add(10 * time.Hour) // same UTC day
	if Fingerprint(d, same) != base {
		t.Error("the fingerprint changed within the day")
	}
	// Within a day the feed differs only in DTSTAMP.
	a, _ := ProgrammeFeed(d, o)
	b, _ := ProgrammeFeed(d, same)
	strip := regexp.MustCompile(`DTSTAMP:\d{8}T\d{6}Z`)
	if !bytes.Equal(strip.ReplaceAll(a, nil), strip.ReplaceAll(b, nil)) {
		t.Error("two feeds with the same fingerprint differ beyond DTSTAMP")
	}
	mutations := map[string]func(d *[]EventData, o *Options){
		"next day":            func(d *[]EventData, o *Options) { o.Now = o.Now.Add(24 * time.Hour) },
		"name":                func(d *[]EventData, o *Options) { o.Name = "Other" },
		"feed URL":            func(d *[]EventData, o *Options) { o.FeedURL += "?x" },
		"keep past":           func(d *[]EventData, o *Options) { o.KeepPast = time.Hour },
		"event sequence":      func(d *[]EventData, o *Options) { (*d)[0].Event.Sequence++ },
		"event updated":       func(d *[]EventData, o *Options) { (*d)[1].Event.UpdatedAt = (*d)[1].Event.UpdatedAt.Add(time.Second) },
		"occurrence sequence": func(d *[]EventData, o *Options) { (*d)[0].Occurrences[5].Sequence++ },
		"occurrence updated":  func(d *[]EventData, o *Options) { (*d)[0].Occurrences[5].UpdatedAt = testNow },
		"occurrence status":   func(d *[]EventData, o *Options) { (*d)[1].Occurrences[0].Status = domain.StatusCancelled },
		"occurrence ID":       func(d *[]EventData, o *Options) { (*d)[1].Occurrences[0].ID = 9999 },
		"occurrence removed":  func(d *[]EventData, o *Options) { (*d)[0].Occurrences = (*d)[0].Occurrences[1:] },
		"event removed":       func(d *[]EventData, o *Options) { *d = (*d)[:1] },
	}
	for name, mutate := range mutations {
		d2 := []EventData{londonSeries(t), santiagoConference(t)}
		o2 := o
		mutate(&d2, &o2)
		if Fingerprint(d2, o2) == base {
			t.Errorf("%s: the fingerprint did not change", name)
		}
	}
}

// TestTrimming: with Now in September and a 30-day window, the March and May overrides go but
// the master keeps its RRULE from January.
func TestTrimming(t *testing.T) {
	d := londonSeries(t)
	o := testOptions("/series/battery-materials.ics")
	o.Now = time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	o.KeepPast = 30 * 24 * time.Hour
	b, err := SeriesFeed(d, o)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(unfold(t, b), "\n")
	for _, gone := range []string{"RECURRENCE-ID;TZID=Europe/London:20260319T150000", "RECURRENCE-ID;TZID=Europe/London:20260507T150000",
		"RECURRENCE-ID;TZID=Europe/London:20260514T150000"} {
		if strings.Contains(text, gone) {
			t.Errorf("trimmed override kept: %s", gone)
		}
	}
	for _, kept := range []string{"DTSTART;TZID=Europe/London:20260108T150000", "RRULE:FREQ=WEEKLY;BYDAY=TH;UNTIL=20261231T235959Z"} {
		if !strings.Contains(text, kept) {
			t.Errorf("master lost %s", kept)
		}
	}
	// From the cut on, the feed still says everything.
	cut := time.Date(2026, 8, 2, 0, 0, 0, 0, time.UTC)
	f := parseFeed(t, b)
	compareInstances(t, "trimmed", f.expand(t, cut, rangeTo), expected(t, []EventData{d}, o, cut, rangeTo))

	// Default: 90 days (from 10 August: since 12 May).
	o.KeepPast = 0
	o.Now = time.Date(2026, 8, 10, 23, 0, 0, 0, time.UTC)
	b, _ = SeriesFeed(d, o)
	if !bytes.Contains(b, []byte("RECURRENCE-ID;TZID=Europe/London:20260514T150000")) || bytes.Contains(b, []byte("RECURRENCE-ID;TZID=Europe/London:20260507T150000")) {
		t.Error("the default window is not 90 days (14 May kept, 7 May trimmed on 10 August)")
	}
	// A personal feed trims too (from 20 June: since 22 March).
	o.Now = time.Date(2026, 6, 20, 0, 0, 0, 0, time.UTC)
	p, _ := PersonalFeed(personalItems(t), o)
	if bytes.Contains(p, []byte("occurrence-1010@")) || !bytes.Contains(p, []byte("occurrence-5002@")) || !bytes.Contains(p, []byte("occurrence-1018@")) {
		t.Error("personal feed not trimmed")
	}
}

// TestEscapingFolding: commas, semicolons, backslashes, newlines, emoji and accents survive
// folding and escaping exactly, and no line passes 75 octets or splits a character.
func TestEscapingFolding(t *testing.T) {
	d := londonSeries(t)
	title := `Señales, baterías; \ "litio" — ção 🔋🇨🇱 ñandú` + strings.Repeat("é🔋", 30)
	abstract := "Primera línea, con coma; y punto y coma.\nSegunda línea \\ barra — 👩‍🔬 investigação\r\nTercera"
	occ := findOcc(t, d.Occurrences, 2026, 2, 5)
	occ.Title = title
	occ.Abstract = abstract
	occ.Speakers = []domain.Speaker{{Name: "Zoë O'Brien, Jr.", Affiliation: "Universidad Católica; Santiago"}}
	d.Event.Venue = domain.Venue{Name: "Café \"Ñuñoa\"", Room: "Sala 2; piso 3", Address: "Irarrázaval 1234, Ñuñoa\nSantiago"}
	for _, pad := range []int{0, 1, 2, 3} { // shift the text so folds fall at every byte of a character
		d.Event.Title = strings.Repeat("x", pad) + "Seminario ñ"
		b, err := SeriesFeed(d, testOptions("/series/x.ics"))
		if err != nil {
			t.Fatal(err)
		}
		unfold(t, b)
		f := parseFeed(t, b)
		var ev *ics.VEvent
		for _, e := range f.events {
			if r := e.GetProperty(ics.ComponentPropertyRecurrenceId); r != nil && r.Value == "20260205T150000" {
				ev = e
			}
		}
		if ev == nil {
			t.Fatal("no override for 5 February")
		}
		if got := prop(&ev.ComponentBase, "SUMMARY"); got != title {
			t.Errorf("SUMMARY round trip:\n got  %q\n want %q", got, title)
		}
		desc := prop(&ev.ComponentBase, "DESCRIPTION")
		// markdown.Plain collapses whitespace, so the abstract's line breaks become spaces.
		for _, want := range []string{"Primera línea, con coma; y punto y coma. Segunda línea \\ barra — 👩‍🔬 investigação Tercera",
			"Speaker: Zoë O'Brien, Jr. (Universidad Católica; Santiago)", "https://puente.example/occurrences/1005"} {
			if !strings.Contains(desc, want) {
				t.Errorf("DESCRIPTION lacks %q:\n%q", want, desc)
			}
		}
		if got, want := prop(&ev.ComponentBase, "LOCATION"), "Café \"Ñuñoa\", Sala 2; piso 3, Irarrázaval 1234, Ñuñoa\nSantiago"; got != want {
			t.Errorf("LOCATION round trip:\n got  %q\n want %q", got, want)
		}
		if got := f.calProp("X-WR-CALNAME"); len(got) != 1 || got[0] != d.Event.Title {
			t.Errorf("X-WR-CALNAME %q", got)
		}
	}
}

// TestEncoderUnits checks the encoder on its own: folding at every byte offset and the escapes.
func TestEncoderUnits(t *testing.T) {
	for n := 60; n < 160; n++ {
		v := strings.Repeat("a", n%7) + strings.Repeat("ñ🔋ção,;\\\n", n/7)
		cal := &ics.Calendar{}
		calProp(cal, "X-TEST", v)
		out := encode(cal, 0)
		lines := unfold(t, out)
		parsed, err := ics.ParseCalendar(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) != 3 || parsed.CalendarProperties[0].Value != v {
			t.Fatalf("round trip of %q gave %q", v, parsed.CalendarProperties[0].Value)
		}
	}
	var b []byte
	if got := string(appendText(b, "a,b;c\\d\ne\r\nf\rg\x00h\ti")); got != `a\,b\;c\\d\ne\nf\ng`+"h\ti" {
		t.Errorf("appendText: %q", got)
	}
	if got := string(appendParamValue(b, `Join: "now", please`)); got != `"Join: 'now', please"` {
		t.Errorf("appendParamValue: %q", got)
	}
	if got := string(appendPlain(b, "https://x.example/a\r\nInjected:1")); got != "https://x.example/aInjected:1" {
		t.Errorf("appendPlain: %q", got)
	}
	for d, want := range map[time.Duration]string{6 * time.Hour: "PT6H", 90 * time.Minute: "PT1H30M", 48 * time.Hour: "P2D", 0: "PT1S"} {
		if got := icalDuration(d); got != want {
			t.Errorf("icalDuration(%v) = %s, want %s", d, got, want)
		}
	}
}

// TestOneOffAndExtras: a series without RRULE is one VEVENT with the series UID; an extra
// occurrence of a weekly series is a VEVENT of its own; a row the rule no longer yields is kept on
// its own and the rule's instance in its place is excluded.
func TestOneOffAndExtras(t *testing.T) {
	d := londonSeries(t)
	one := d.Event
	one.ID, one.RRule, one.Slug, one.StartDate = 43, "", "one-off", wall(2026, 6, 4, 0, 0)
	oneOcc := occurrenceAt(t, one, 3001, "generated", wall(2026, 6, 4, 15, 0), time.Hour)
	oneOcc.Sequence = 1
	extra := occurrenceAt(t, d.Event, 2001, "extra", wall(2026, 7, 1, 11, 0), 2*time.Hour)
	extra.Title = "Extra: summer school"
	d.Occurrences = append(d.Occurrences, extra)
	// A row left from before the series moved from 14:00 to 15:00 (past rows are kept).
	old := findOcc(t, d.Occurrences, 2026, 1, 15)
	o14 := wall(2026, 1, 15, 14, 0)
	old.OriginalStart, old.StartLocal = &o14, o14
	old.Start, old.End = old.Start.Add(-time.Hour), old.End.Add(-time.Hour)
	ds := []EventData{d, {Event: one, Occurrences: []domain.Occurrence{oneOcc}}}
	o := testOptions("/programme.ics")
	b, err := ProgrammeFeed(ds, o)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(unfold(t, b), "\n")
	for _, want := range []string{"UID:series-43@puente.example\nDTSTAMP:20260301T093000Z\nSEQUENCE:3\n",
		"UID:occurrence-2001@puente.example", "UID:occurrence-1002@puente.example",
		"EXDATE;TZID=Europe/London:20260115T150000", "SUMMARY:Extra: summer school"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q", want)
		}
	}
	f := parseFeed(t, b)
	compareInstances(t, "programme", f.expand(t, rangeFrom, rangeTo), expectedWithOrphan(t, ds, o))
}

// expectedWithOrphan is expected() for TestOneOffAndExtras, where one row is not a rule instance.
func expectedWithOrphan(t *testing.T, ds []EventData, o Options) []instance {
	var out []instance
	for _, in := range expected(t, ds, o, rangeFrom, rangeTo) {
		if in.RecurrenceID != "20260115T150000" {
			out = append(out, in)
		}
	}
	out = append(out, instance{UID: "occurrence-1002@puente.example", Start: "2026-01-15T14:00:00.000Z", End: "2026-01-15T15:00:00.000Z",
		Status: "CONFIRMED", Summary: "Battery Materials Seminar"})
	sortInstances(out)
	return out
}

func TestErrors(t *testing.T) {
	d := londonSeries(t)
	d.Event.TimeZone = "Mars/Olympus_Mons"
	if _, err := SeriesFeed(d, testOptions("")); err == nil {
		t.Error("an unknown zone gave no error")
	}
	d = londonSeries(t)
	d.Event.RRule = "FREQ=SOMETIMES"
	if _, err := SeriesFeed(d, testOptions("")); err == nil {
		t.Error("a bad RRULE gave no error")
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{BaseURL: "https://seminars.example.org:8443/"}.normalised()
	if o.Host != "seminars.example.org" || o.BaseURL != "https://seminars.example.org:8443" || o.KeepPast != DefaultKeepPast ||
		o.Refresh != DefaultRefresh || o.Now.IsZero() {
		t.Errorf("defaults: %+v", o)
	}
}
