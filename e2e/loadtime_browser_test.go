package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// pageLoad is what Chromium's Navigation Timing and Resource Timing say about one load.
type pageLoad struct {
	FirstByte        float64 `json:"ttfb"` // ms, responseStart
	Interactive      float64 `json:"interactive"`
	DOMContentLoaded float64 `json:"dcl"`  // ms from the start of the navigation
	Load             float64 `json:"load"` // ms, the load event's end
	HTMLTransfer     int     `json:"htmlTransfer"`
	HTMLBody         int     `json:"htmlBody"` // decoded
	Resources        []struct {
		Name     string  `json:"name"`
		Transfer int     `json:"transfer"` // 0: from the cache
		Encoded  int     `json:"encoded"`
		Decoded  int     `json:"decoded"`
		Duration float64 `json:"duration"`
	} `json:"resources"`
}

func (l pageLoad) transfer() int {
	n := l.HTMLTransfer
	for _, r := range l.Resources {
		n += r.Transfer
	}
	return n
}

func (l pageLoad) decoded() int {
	n := l.HTMLBody
	for _, r := range l.Resources {
		n += r.Decoded
	}
	return n
}

const readTimings = `(() => {
	const n = performance.getEntriesByType("navigation")[0];
	return {ttfb: n.responseStart, interactive: n.domInteractive, dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, htmlTransfer: n.transferSize, htmlBody: n.decodedBodySize,
		resources: performance.getEntriesByType("resource").map(r => ({name: new URL(r.name).pathname,
			transfer: r.transferSize, encoded: r.encodedBodySize, decoded: r.decodedBodySize, duration: r.duration}))};
})()`

// measureLoad opens url (from about:blank, so it is a new navigation and not a reload) and
// reads the timings once the load event is over.
func measureLoad(t *testing.T, ctx context.Context, url string) pageLoad {
	t.Helper()
	step(t, ctx, "blank", chromedp.Navigate("about:blank"))
	step(t, ctx, "open "+url, chromedp.Navigate(url))
	waitFor(t, ctx, "load over", `document.readyState === "complete" && performance.getEntriesByType("navigation")[0].loadEventEnd > 0`)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := chromedp.Run(sctx, chromedp.Evaluate[pageLoad](readTimings))
	if err != nil {
		t.Fatalf("timings of %s: %v", url, err)
	}
	return l
}

// spread is "median (min–max)".
func spread(xs []float64) string {
	return fmt.Sprintf("%.0f (%.0f–%.0f)", median(xs), slices.Min(xs), slices.Max(xs))
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// Load time in Chromium for the home page, the programme and a series page, first view
// (empty cache) and repeat view (its files cached), against the real binary on loopback:
// no network time, so this is the server's and the browser's own work. It prints the
// figures docs/benchmarks.md quotes, and checks that a repeat view fetches no static file.
func TestBrowserLoadTime(t *testing.T) {
	skipShort(t, "starts the binary and a browser")
	bin := buildBinary(t)
	env := cleanEnv("PUENTE_DATA_DIR=" + dataDir(t))
	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "org@example.org", "--organiser")
	token := lastLine(runCLI(t, bin, env, 0, "admin", "token", "create", "--email", "org@example.org"))
	in := start(t, bin, env)
	api := apiCaller(t, in.baseURL, token)
	day := firstThursdayOfJanuary()
	s := api("POST", "/api/v1/series", fmt.Sprintf(`{"title":"Battery Materials Seminar","timezone":"Europe/London",
		"start_date":"%s","start_time":"15:00","rrule":"FREQ=WEEKLY;INTERVAL=2;BYDAY=TH","capacity":30,
		"description":"Talks on electrodes and electrolytes, every second Thursday."}`, day.Format(time.DateOnly)))

	ctx := newBrowser(t)
	step(t, ctx, "desktop size", chromedp.EmulateViewport(1366, 768))
	const runs = 5
	var report strings.Builder
	fmt.Fprintf(&report, "\n| page | view | first byte (ms) | DOM interactive (ms) | DOMContentLoaded (ms) | load (ms) | bytes transferred | bytes decoded | requests |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, page := range []struct{ name, path string }{
		{"home", "/"}, {"programme", "/programme"}, {"series", "/series/" + fmt.Sprint(s["slug"])},
	} {
		var firstTTFB, firstInt, firstDCL, firstLoad, repTTFB, repInt, repDCL, repLoad []float64
		var first, repeat pageLoad
		for range runs {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if _, err := chromedp.Call(sctx, network.ClearBrowserCache, cdp.Empty{}); err != nil {
				t.Fatalf("clear the cache: %v", err)
			}
			cancel()
			first = measureLoad(t, ctx, in.baseURL+page.path)
			repeat = measureLoad(t, ctx, in.baseURL+page.path)
			firstTTFB, firstInt = append(firstTTFB, first.FirstByte), append(firstInt, first.Interactive)
			firstDCL, firstLoad = append(firstDCL, first.DOMContentLoaded), append(firstLoad, first.Load)
			repTTFB, repInt = append(repTTFB, repeat.FirstByte), append(repInt, repeat.Interactive)
			repDCL, repLoad = append(repDCL, repeat.DOMContentLoaded), append(repLoad, repeat.Load)
			for _, r := range repeat.Resources {
				if strings.HasPrefix(r.Name, "/static/") && r.Transfer > 0 {
					t.Errorf("%s, repeat view: %s fetched again (%d bytes)", page.name, r.Name, r.Transfer)
				}
			}
		}
		for _, v := range []struct {
			view                string
			ttfb, in, dcl, load []float64
			measured            pageLoad
		}{{"first", firstTTFB, firstInt, firstDCL, firstLoad, first}, {"repeat", repTTFB, repInt, repDCL, repLoad, repeat}} {
			fmt.Fprintf(&report, "| %s | %s | %s | %s | %s | %s | %d | %d | %d |\n", page.name, v.view,
				spread(v.ttfb), spread(v.in), spread(v.dcl), spread(v.load),
				v.measured.transfer(), v.measured.decoded(), 1+len(v.measured.Resources))
		}
		for _, r := range first.Resources {
			fmt.Fprintf(&report, "|   %s | first | | | | | %d | %d | |\n", r.Name, r.Transfer, r.Decoded)
		}
	}
	t.Logf("median (min–max) of %d runs, Chromium headless, loopback:%s", runs, report.String())
	in.stop()
}
