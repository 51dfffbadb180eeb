package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// icalJS returns the node binary and the folder of the ical.js checker (calendar's test
// data), installing its package when needed. Skips only without node and PUENTE_E2E.
func icalJS(t *testing.T) (node, dir string) {
	t.Helper()
	dir, _ = filepath.Abs("../calendar/testdata/icaljs")
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ical.js")); err != nil {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci for ical.js: %v\n%s", err, out)
		}
	}
	return node, dir
}

// A person copies the feed address from a series page; Thunderbird's parser (ical.js)
// reads that feed and finds exactly the talks, at exactly the instants, that the page
// shows (in Santiago time, through the year's clock changes).
func TestFeedFromPageMatchesPage(t *testing.T) {
	skipShort(t, "starts the binary and a browser")
	node, dir := icalJS(t)
	ctx := newBrowser(t)
	bin := buildBinary(t)
	env := cleanEnv("PUENTE_DATA_DIR=" + dataDir(t))
	token := lastLine(runCLI(t, bin, env, 0, "admin", "token", "create", "--email", "org@example.org"))
	in := start(t, bin, env)

	first := firstThursdayOfJanuary()
	body := fmt.Sprintf(`{"title":"Battery Materials Seminar","timezone":"Europe/London","start_date":"%s","start_time":"15:00",
		"duration_minutes":60,"rrule":"FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;UNTIL=%d1231T235959Z"}`, first.Format(time.DateOnly), first.Year())
	if code, b := apiDo(t, "POST", in.baseURL+"/api/v1/series", token, body); code != 201 {
		t.Fatalf("create series: %d %s", code, b)
	}

	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/Santiago"}); err != nil {
		t.Fatal(err)
	}
	step(t, ctx, "series page", chromedp.Navigate(in.baseURL+"/series/battery-materials-seminar"))
	waitFor(t, ctx, "times in Santiago", `document.body.textContent.includes("Santiago time")`)
	screenshot(t, ctx, "series-with-feed")
	feedURL := eval[string](t, ctx, `document.getElementById("feed-url").value`)
	pageTimes := eval[[]string](t, ctx, `[...document.querySelectorAll(".talks time")].map(t => t.getAttribute("datetime"))`)
	if len(pageTimes) < 20 {
		t.Fatalf("page shows %d talks", len(pageTimes))
	}
	var shown []string
	for _, s := range pageTimes {
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		shown = append(shown, ts.UTC().Format(time.RFC3339))
	}

	feedRes, err := http.Get(feedURL)
	if err != nil || feedRes.StatusCode != 200 {
		t.Fatalf("feed %s: %v", feedURL, err)
	}
	feed, _ := io.ReadAll(feedRes.Body)
	feedRes.Body.Close()
	cmd := exec.Command(node, "expand.mjs", time.Now().AddDate(-1, 0, 0).UTC().Format(time.RFC3339), time.Now().AddDate(3, 0, 0).UTC().Format(time.RFC3339))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TZ=Pacific/Kiritimati")
	cmd.Stdin = bytes.NewReader(feed)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ical.js: %v\n%s", err, out)
	}
	var expanded []struct {
		Start, Status string
	}
	if err := json.Unmarshal(out, &expanded); err != nil {
		t.Fatalf("ical.js output: %v\n%s", err, out)
	}
	var parsed []string
	for _, e := range expanded {
		if !strings.EqualFold(e.Status, "CANCELLED") {
			ts, _ := time.Parse(time.RFC3339, e.Start)
			parsed = append(parsed, ts.UTC().Format(time.RFC3339))
		}
	}
	sort.Strings(shown)
	sort.Strings(parsed)
	// The page lists the next twelve months; the feed holds the whole rule (and a little
	// of the past): compare over the page's span.
	var fromToday []string
	for _, p := range parsed {
		if p >= shown[0] && p <= shown[len(shown)-1] {
			fromToday = append(fromToday, p)
		}
	}
	if strings.Join(fromToday, " ") != strings.Join(shown, " ") {
		t.Fatalf("ical.js and the page disagree:\npage:    %v\nical.js: %v", shown, fromToday)
	}
	in.stop()
}
