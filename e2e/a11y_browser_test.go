package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// axeDir holds axe-core, installed by `npm ci` (.ci/run does it).
const axeDir = "testdata/axe"

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

// axeScript is axe.min.js. Without it the test skips, or fails when PUENTE_E2E=1.
func axeScript(t *testing.T) string {
	t.Helper()
	axeOnce.Do(func() {
		var b []byte
		b, axeErr = os.ReadFile(filepath.Join(axeDir, "node_modules", "axe-core", "axe.min.js"))
		axeSource = string(b)
	})
	if axeErr != nil {
		missing(t, fmt.Sprintf("axe-core is not installed (cd e2e/%s && npm ci): %v", axeDir, axeErr))
	}
	return axeSource
}

// axeViolation is one broken rule on a page, as axe-core reports it.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target         []any  `json:"target"`
		FailureSummary string `json:"failureSummary"`
	} `json:"nodes"`
}

func (v axeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s: %s", v.Impact, v.ID, v.Help)
	for i, n := range v.Nodes {
		if i == 5 {
			fmt.Fprintf(&b, "\n      … and %d more", len(v.Nodes)-5)
			break
		}
		summary := strings.ReplaceAll(strings.TrimSpace(n.FailureSummary), "\n", " / ")
		fmt.Fprintf(&b, "\n      %v: %s", n.Target, summary)
	}
	return b.String()
}

// runAxe checks the page the browser shows with axe-core (WCAG 2.0–2.2 A and AA rules and
// axe's best practices) and fails the test on any violation of impact "serious" or
// "critical", listing them; lesser ones are only logged. It returns every violation.
func runAxe(t *testing.T, ctx context.Context, page string) []axeViolation {
	t.Helper()
	src := axeScript(t)
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(sctx, chromedp.Evaluate[chromedp.Void](src+"\n;undefined")); err != nil {
		t.Fatalf("%s: inject axe-core: %v", page, err)
	}
	raw, err := chromedp.Run(sctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]})
		.then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: run axe-core: %v", page, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Fatalf("%s: axe-core's answer: %v", page, err)
	}
	t.Logf("%s: axe-core found %d violated rules", page, len(vs))
	var bad []string
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, "  "+v.String())
		} else {
			t.Logf("%s: axe (not failing): %s", page, v)
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s: %d serious or critical accessibility violations:\n%s", page, len(bad), strings.Join(bad, "\n"))
	}
	return vs
}

// artifactDir is where screenshots go: $PUENTE_E2E_ARTIFACTS (CI keeps it), else a
// temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PUENTE_E2E_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// saveScreenshot writes the whole page as PNG and logs where.
func saveScreenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)) // 100 makes a PNG, less a JPEG
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot %s", path)
}

type viewport struct {
	name          string
	width, height int64
}

var (
	desktop = viewport{"desktop", 1366, 768}
	phone   = viewport{"phone", 390, 844}
)

// checkPage opens path at both sizes, runs axe-core on it, saves a screenshot of each,
// and on the phone checks that nothing scrolls sideways and the header is one row.
// ready is a JavaScript condition the page meets once shown.
func checkPage(t *testing.T, ctx context.Context, base, dir, name, path, ready string) {
	t.Helper()
	checkPageStatus(t, ctx, base, dir, name, path, ready, 200)
}

// checkPageStatus is checkPage for a page answered with HTTP status want (a refusal page
// is checked as such, and a page that should load is not passed by the error page, which
// has a heading too).
func checkPageStatus(t *testing.T, ctx context.Context, base, dir, name, path, ready string, want int) {
	t.Helper()
	for _, vp := range []viewport{desktop, phone} {
		step(t, ctx, name+" at "+vp.name, chromedp.EmulateViewport(vp.width, vp.height), chromedp.Navigate(base+path))
		waitFor(t, ctx, name, fmt.Sprintf(`document.readyState === "complete" && performance.getEntriesByType("navigation")[0].responseStatus === %d && (%s)`, want, ready))
		runAxe(t, ctx, name+" ("+vp.name+")")
		if vp == desktop {
			focusRings(t, ctx, name)
		}
		if vp == phone {
			if w := eval[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
				t.Errorf("%s scrolls sideways on a phone by %d px; too wide: %s", name, w, eval[string](t, ctx, tooWide))
			}
			// One compact row: the brand, the language links and the menu button.
			if h := eval[int](t, ctx, `Math.round(document.querySelector("header.site").getBoundingClientRect().height)`); h > 72 {
				t.Errorf("%s: the header is %d px high on a phone, want one row (≤ 72 px)", name, h)
			}
		}
		saveScreenshot(t, ctx, dir, name+"-"+vp.name)
	}
}

// Every page but the live room and its pre-join page, signed out and signed in, at
// desktop and phone sizes: no serious or critical axe-core violation, nothing scrolls
// sideways on a phone, and a screenshot of each for a person to look at.
func TestBrowserAccessibility(t *testing.T) {
	skipShort(t, "starts the binary and a browser")
	axeScript(t)
	bin := buildBinary(t)
	env := cleanEnv("PUENTE_DATA_DIR=" + dataDir(t))
	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "admin@example.org", "--admin")
	// An organiser who is also a site admin: the header at its fullest, and the people page.
	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "org@example.org", "--organiser", "--admin")
	token := lastLine(runCLI(t, bin, env, 0, "admin", "token", "create", "--email", "org@example.org"))
	in := start(t, bin, env)
	api := apiCaller(t, in.baseURL, token)

	day := firstThursdayOfJanuary()
	s := api("POST", "/api/v1/series", fmt.Sprintf(`{"title":"Battery Materials Seminar","timezone":"Europe/London",
		"start_date":"%s","start_time":"15:00","capacity":30,
		"description":"Talks on **electrodes** and electrolytes, every second Thursday."}`, day.Format(time.DateOnly)))
	occ := api("GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=%s&to=%s", s["id"], day.Format(time.DateOnly), day.Format(time.DateOnly)), "")
	occID := occ["items"].([]any)[0].(map[string]any)["id"]
	api("PATCH", fmt.Sprintf("/api/v1/occurrences/%v", occID), `{"title":"Solid electrolytes at room temperature",
		"speakers":[{"name":"Ana Pérez","affiliation":"Universidad de Chile"}],"abstract":"Why *solid* electrolytes now."}`)
	confDay := day.AddDate(0, 1, 0)
	conf := api("POST", "/api/v1/conferences", fmt.Sprintf(`{"title":"Lithium Week","timezone":"America/Santiago",
		"start_date":"%s","end_date":"%s"}`, confDay.Format(time.DateOnly), confDay.AddDate(0, 0, 1).Format(time.DateOnly)))
	api("POST", fmt.Sprintf("/api/v1/conferences/%v/sessions", conf["id"]),
		fmt.Sprintf(`{"title":"Keynote","start_date":"%s","start_time":"09:00"}`, confDay.Format(time.DateOnly)))
	seriesPath := "/series/" + fmt.Sprint(s["slug"])
	confPath := "/conferences/" + fmt.Sprint(conf["slug"])
	occPath := fmt.Sprintf("/occurrences/%v", occID)

	dir := artifactDir(t)
	ctx := newBrowser(t)
	base := in.baseURL
	has := func(sel string) string { return `!!document.querySelector(` + jsString(sel) + `)` }

	// Signed out.
	checkPage(t, ctx, base, dir, "home", "/", has("h1"))
	phoneMenuByKeyboard(t, ctx, dir)
	phoneMenuWithoutScript(t, ctx, base)
	checkPage(t, ctx, base, dir, "programme", "/programme", has("h1"))
	checkPage(t, ctx, base, dir, "programme-calendar", "/programme?view=calendar", has("h1"))
	checkPage(t, ctx, base, dir, "series", seriesPath, has(".talk-title"))
	checkPage(t, ctx, base, dir, "conference", confPath, has("h1"))
	checkPage(t, ctx, base, dir, "session", occPath, has("#register-email-form"))
	checkPage(t, ctx, base, dir, "sign-in", "/sign-in", has("#email"))

	// Registration by email: the form, then its confirmation page.
	step(t, ctx, "register by email", chromedp.EmulateViewport(desktop.width, desktop.height), chromedp.Navigate(base+occPath),
		chromedp.WaitVisible(chromedp.CSS(`#reg-email`)), chromedp.SendKeys(chromedp.CSS(`#reg-email`), "bea@example.org"),
		chromedp.Submit(chromedp.CSS(`#register-email-form`)))
	waitFor(t, ctx, "registration sent", has("#signin-sent"))
	runAxe(t, ctx, "registration confirmation (by email)")
	saveScreenshot(t, ctx, dir, "registration-sent-desktop")
	checkPageStatus(t, ctx, base, dir, "registration-link-invalid", "/registrations/confirm/not-a-token", has("#registration-confirm"), 404)

	// Signed in as the organiser, who also registers.
	browserSignIn(t, ctx, base, "org@example.org")
	checkPage(t, ctx, base, dir, "session-signed-in", occPath, has("#register-form"))
	step(t, ctx, "register", chromedp.EmulateViewport(desktop.width, desktop.height), chromedp.Navigate(base+occPath),
		chromedp.WaitVisible(chromedp.CSS(`#register-form`)), chromedp.Submit(chromedp.CSS(`#register-form`)))
	waitFor(t, ctx, "registered", has("#registration-status"))
	checkPage(t, ctx, base, dir, "registration-done", occPath, has("#registration-status"))
	checkPage(t, ctx, base, dir, "my-seminars", "/my-seminars", has("h1"))
	checkPage(t, ctx, base, dir, "organise", "/organise", has("h1"))
	checkPage(t, ctx, base, dir, "home-signed-in", "/", has("h1"))
	// Beyond the pages issue 15 lists: the organiser's forms and lists, and the profile.
	checkPage(t, ctx, base, dir, "profile", "/profile", has("#profile-form"))
	checkPage(t, ctx, base, dir, "new-series-form", "/organise/new?kind=series", has("#event-form"))
	checkPage(t, ctx, base, dir, "manage-series", fmt.Sprintf("/organise/events/%v", s["id"]), has("h1"))
	checkPage(t, ctx, base, dir, "edit-session", fmt.Sprintf("/organise/occurrences/%v", occID), has("h1"))
	checkPage(t, ctx, base, dir, "registrations", fmt.Sprintf("/organise/occurrences/%v/registrations", occID), has("h1"))
	checkPage(t, ctx, base, dir, "admin-people", "/admin/people", has("h1"))
	// The community's pages: lists, directory, counts, topics, announcements, the account.
	checkPage(t, ctx, base, dir, "preferences", "/preferences", has("#preferences-form"))
	checkPage(t, ctx, base, dir, "directory", "/directory", has("h1"))
	checkPage(t, ctx, base, dir, "admin-members", "/admin/members", has("h1"))
	checkPage(t, ctx, base, dir, "topic", "/topics/recycling", has("h1"))
	checkPage(t, ctx, base, dir, "write-announcement", fmt.Sprintf("/organise/events/%v/announcements", s["id"]), has("h1"))
	checkPage(t, ctx, base, dir, "announcements-archive", seriesPath+"/announcements", has("h1"))
	checkPage(t, ctx, base, dir, "delete-account", "/profile/delete", has("h1"))
	in.stop()
}

// phoneMenuByKeyboard works the phone's header with the keyboard alone: the skip link
// comes first, then the menu button opens the navigation (aria-expanded), every stop shows
// a focus ring, and Escape closes the menu and returns to its button.
func phoneMenuByKeyboard(t *testing.T, ctx context.Context, dir string) {
	t.Helper()
	tab := func(want string) {
		t.Helper()
		step(t, ctx, "Tab to "+want, chromedp.KeyEvent("\t"))
		if !eval[bool](t, ctx, `document.activeElement.matches(`+jsString(want)+`)`) {
			t.Fatalf("Tab: focus on %s, want %s", eval[string](t, ctx, `document.activeElement.outerHTML.slice(0, 120)`), want)
		}
		if ring := eval[string](t, ctx, `getComputedStyle(document.activeElement).outlineStyle`); ring != "solid" {
			t.Errorf("%s has focus but no visible ring (outline %q)", want, ring)
		}
	}
	open := func() bool {
		return eval[bool](t, ctx, `document.querySelector("[data-menu-button]").getAttribute("aria-expanded") === "true" &&
			document.querySelector('#site-menu a[href="/programme"]').checkVisibility()`)
	}
	if open() || eval[bool](t, ctx, `document.querySelector('#site-menu a[href="/programme"]').checkVisibility()`) {
		t.Fatal("the phone's menu is open before anyone opened it")
	}
	tab("a.skip")
	tab("a.brand")
	tab("[data-menu-button]")
	step(t, ctx, "open the menu", chromedp.KeyEvent("\r"))
	if !open() {
		t.Fatal("Enter on the menu button did not open the menu")
	}
	tab(`#site-menu a[href="/programme"]`)
	saveScreenshot(t, ctx, dir, "home-phone-menu-open")
	step(t, ctx, "close the menu", chromedp.KeyEvent(kb.Escape))
	if open() || !eval[bool](t, ctx, `document.activeElement.matches("[data-menu-button]")`) {
		t.Error("Escape did not close the menu and return to its button")
	}
}

// focusRings gives the focus to every control and link of the page, as the keyboard does
// (after one Tab, a script's focus() also matches :focus-visible), and fails for any that
// shows no ring.
func focusRings(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	step(t, ctx, "Tab once", chromedp.KeyEvent("\t"))
	bare := eval[[]string](t, ctx, `(() => {
		const bare = [];
		const all = document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])');
		for (const e of all) {
			if (!e.checkVisibility() || e.disabled) continue;
			e.focus();
			if (document.activeElement !== e) continue;
			const s = getComputedStyle(e);
			const ring = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== "none";
			if (!ring || !e.matches(":focus-visible")) bare.push(e.outerHTML.slice(0, 100));
		}
		document.activeElement.blur();
		return bare;
	})()`)
	if len(bare) > 0 {
		t.Errorf("%s: %d elements show no focus ring when focused from the keyboard:\n  %s", page, len(bare), strings.Join(bare, "\n  "))
	}
}

// phoneMenuWithoutScript: with JavaScript off, the phone's header hides nothing and
// shows no menu button that would do nothing.
func phoneMenuWithoutScript(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	noScript := func(off bool) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := chromedp.Call(sctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: off}); err != nil {
			t.Fatalf("turn scripts off=%v: %v", off, err)
		}
	}
	noScript(true)
	defer noScript(false)
	step(t, ctx, "home without scripts", chromedp.EmulateViewport(phone.width, phone.height), chromedp.Navigate(base+"/"),
		chromedp.WaitReady(chromedp.CSS("h1")))
	// Evaluate still runs with page scripts off (it is the test's, not the page's).
	if !eval[bool](t, ctx, `document.querySelector('#site-menu a[href="/programme"]').checkVisibility() &&
		!document.querySelector("[data-menu-button]").checkVisibility()`) {
		t.Error("without JavaScript the phone's menu is hidden, or its button shown")
	}
}

// tooWide names the outermost elements that reach past the window's right edge.
const tooWide = `[...document.querySelectorAll("body *")]
	.filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 &&
		!(e.parentElement && e.parentElement.getBoundingClientRect().right > window.innerWidth + 1))
	.slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + String(e.className).split(" ").join(".") : "")
		+ " (" + Math.round(e.getBoundingClientRect().width) + " px)").join(", ")`

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
