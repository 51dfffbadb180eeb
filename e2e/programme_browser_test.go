package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// browserSignIn signs a browser in by email through the local mailbox.
func browserSignIn(t *testing.T, ctx context.Context, base, email string) {
	t.Helper()
	step(t, ctx, "sign-in form", chromedp.Navigate(base+"/sign-in"), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	step(t, ctx, "ask for a link", chromedp.SendKeys(chromedp.CSS(`#email`), email), chromedp.Submit(chromedp.CSS(`#email`)),
		chromedp.WaitVisible(chromedp.CSS(`#signin-sent`)))
	step(t, ctx, "mailbox", chromedp.Navigate(base+"/dev/mail"), chromedp.Click(chromedp.CSS(`.mail-list a`)),
		chromedp.WaitVisible(chromedp.CSS(`.mail-body a`)))
	step(t, ctx, "follow the link", chromedp.Click(chromedp.CSS(`.mail-body a`)))
	waitFor(t, ctx, "signed in", `document.querySelector('form[action="/sign-out"]') !== null`)
}

// An organiser creates a weekly series in the browser, seeing the live preview in London
// and Santiago; an attendee whose browser is in Santiago sees the talks at Santiago time
// without setting anything.
func TestBrowserSeriesAndSantiagoViewer(t *testing.T) {
	skipShort(t, "starts the binary and a browser")
	ctx := newBrowser(t)
	bin := buildBinary(t)
	env := cleanEnv("PUENTE_DATA_DIR=" + dataDir(t))
	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "first@example.org", "--admin") // so the organiser is not the first account
	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "org@example.org", "--organiser")
	in := start(t, bin, env)
	browserSignIn(t, ctx, in.baseURL, "org@example.org")

	// The first Thursday at least a week ahead, in December–February when London is on GMT
	// and Santiago on -03, so London 15:00 is 12:00 in Santiago.
	first := firstThursdayOfJanuary()
	step(t, ctx, "new series form", chromedp.Navigate(in.baseURL+"/organise/new?kind=series"),
		chromedp.WaitVisible(chromedp.CSS(`#event-form`)))
	step(t, ctx, "fill the form",
		chromedp.SendKeys(chromedp.CSS(`#title`), "Battery Materials Seminar"),
		chromedp.Evaluate[chromedp.Void](`(() => {
			const f = document.getElementById("event-form");
			f.timezone.value = "Europe/London";
			f.start_date.value = "`+first.Format(time.DateOnly)+`";
			f.start_time.value = "15:00";
			f.interval.value = "2";
			f.querySelector('[name=weekdays][value="4"]').checked = true;
			f.other_timezone.value = "America/Santiago";
			f.dispatchEvent(new Event("change"));
		})()`))
	waitFor(t, ctx, "live preview", `document.querySelectorAll("#preview-list li").length >= 5 &&
		document.querySelector("#preview-list li").textContent.includes("12:00")`)
	screenshot(t, ctx, "series-form")
	summary := eval[string](t, ctx, `document.getElementById("preview-summary").textContent`)
	if !strings.Contains(summary, "2 weeks") {
		t.Errorf("preview summary: %q", summary)
	}
	step(t, ctx, "create", chromedp.Submit(chromedp.CSS(`#title`)))
	waitFor(t, ctx, "manage page", `location.pathname.startsWith("/organise/events/") && document.querySelectorAll(".talks.manage li").length > 10`)
	screenshot(t, ctx, "series-manage")

	// An attendee in Santiago, in another browser, signed out, never told Puente their zone.
	actx := newBrowser(t)
	cctx, ccancel := context.WithTimeout(actx, 30*time.Second)
	defer ccancel()
	if _, err := chromedp.Call(cctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/Santiago"}); err != nil {
		t.Fatalf("emulate Santiago: %v", err)
	}
	step(t, actx, "programme", chromedp.Navigate(in.baseURL+"/series/battery-materials-seminar"))
	waitFor(t, actx, "times in Santiago", `document.body.textContent.includes("Santiago") &&
		document.body.textContent.includes("12:00–13:00") && document.body.textContent.includes("15:00 London")`)
	screenshot(t, actx, "series-santiago")
	in.stop()
}
