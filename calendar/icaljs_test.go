package calendar

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/programme"
)

// The feeds read by an independent parser: Mozilla's ical.js (Thunderbird's), run by Node from
// testdata/icaljs. ical.js resolves a TZID only from the file's VTIMEZONE, so a missing or wrong
// VTIMEZONE shows as a wrong instant (node runs with TZ=Pacific/Kiritimati, UTC+14, so a time
// read as floating cannot pass for a right one by chance).

const icaljsDir = "testdata/icaljs"

// icaljs prepares the checker: node must be there (the test may skip without it only when
// PUENTE_E2E is unset) and ical.js installed from the lock file.
func icaljs(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("PUENTE_E2E") == "1" {
			t.Fatal("node is not installed (PUENTE_E2E=1 requires it)")
		}
		t.Skip("node is not installed; set PUENTE_E2E=1 to make this a failure")
	}
	if _, err := os.Stat(filepath.Join(icaljsDir, "node_modules", "ical.js", "package.json")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Fatal("npm is not installed, and ical.js is missing from " + icaljsDir)
		}
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = icaljsDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", icaljsDir, err, out)
		}
	}
	return node
}

// runICALJS expands a feed with ical.js over [from, to).
func runICALJS(t *testing.T, node string, data []byte, from, to time.Time) []instance {
	t.Helper()
	cmd := exec.Command(node, "expand.mjs", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	cmd.Dir = icaljsDir
	cmd.Env = append(os.Environ(), "TZ=Pacific/Kiritimati")
	cmd.Stdin = bytes.NewReader(data)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ical.js: %v\n%s", err, stderr.String())
	}
	var got []instance
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("ical.js output: %v\n%s", err, stdout.String())
	}
	sortInstances(got)
	return got
}

func TestICALJS(t *testing.T) {
	node := icaljs(t)
	for _, fc := range buildCases(t) {
		t.Run(fc.name, func(t *testing.T) {
			from, to := rangeFrom, rangeTo
			if fc.name == "occurrence" {
				from, to = time.Date(2026, 3, 19, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
			}
			got := runICALJS(t, node, fc.data, from, to)
			compareInstances(t, "ical.js "+fc.name, got, fc.want)
			if fc.name == "series" {
				if n := checkTable(t, "ical.js", got, map[string]bool{"20260319T150000": true}); n != 51 {
					t.Errorf("checked %d occurrences against the table, want 51", n)
				}
			}
		})
	}
}

// zoneName names a test series after its zone ("America/Sao_Paulo" -> "Sao Paulo").
func zoneName(zone string) string {
	return strings.ReplaceAll(zone[strings.LastIndex(zone, "/")+1:], "_", " ")
}

// worldSeries is one series per test zone: Sundays, Wednesdays and Fridays at noon from 2016 to
// 2030 (so across Chile's rule changes of 2016, 2019 and 2022), with occurrence rows for 2026, one
// of them moved and one cancelled.
func worldSeries(t testing.TB) []EventData {
	t.Helper()
	var ds []EventData
	for i, zone := range testZones {
		rrule, err := programme.CanonicalRRule("FREQ=WEEKLY;BYDAY=SU,WE,FR;UNTIL=20301231", zone)
		if err != nil {
			t.Fatal(err)
		}
		e := domain.Event{ID: int64(100 + i), Kind: domain.KindSeries, Slug: "world-" + zoneName(zone),
			Title: "Noon in " + zoneName(zone), TimeZone: zone, StartDate: wall(2016, 1, 1, 0, 0), StartTime: "12:00",
			Duration: 45 * time.Minute, RRule: rrule, Sequence: 1, UpdatedAt: testCreated}
		occs := generate(t, e, int64(100000*(i+1)), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		move(t, e, &occs[10], occs[10].StartLocal.Add(26*time.Hour+30*time.Minute), testEdited)
		cancel(&occs[20], "Holiday, sorry.", testEdited)
		ds = append(ds, EventData{Event: e, Occurrences: occs})
	}
	return ds
}

// TestICALJSWorld: every occurrence from 2016 to 2030 of series in 21 zones, as ical.js and as
// golang-ical + rrule-go read the VTIMEZONEs, against Go.
func TestICALJSWorld(t *testing.T) {
	ds := worldSeries(t)
	o := testOptions("/programme.ics")
	data, err := ProgrammeFeed(ds, o)
	if err != nil {
		t.Fatal(err)
	}
	from, to := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	want := expected(t, ds, o, from, to)
	if len(want) < 21*2300 {
		t.Fatalf("only %d occurrences expected", len(want))
	}
	if strings.Contains(string(data), "X-WR-TIMEZONE") {
		t.Error("X-WR-TIMEZONE in a feed of many zones")
	}
	compareInstances(t, "golang-ical+rrule-go", parseFeed(t, data).expand(t, from, to), want)
	node := icaljs(t)
	compareInstances(t, "ical.js", runICALJS(t, node, data, from, to), want)
}
