package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds a Chromium. Browser tests skip without one, unless PUENTE_E2E=1
// (CI installs Chromium and sets it), where a missing browser is a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "no Chromium found (apt-get install chromium)")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile, kept off the network but
// for loopback; extra adds flags.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("lang", "en-GB"),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now, with no deadline on this first call (it owns the browser).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// step runs browser actions with a deadline, so a broken page fails instead of hanging.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitFor polls a JavaScript condition (an expression, or a promise of one) until it
// holds, across page loads.
func waitFor(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(sctx, chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s: %s still false at %s (last error %v)", what, expr, loc, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot saves the page as PNG into $PUENTE_SCREENSHOTS, when set, for a person to look at.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("PUENTE_SCREENSHOTS")
	if dir == "" {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
}

// apiCaller makes JSON API calls with a personal token and fails the test on an error
// status.
func apiCaller(t *testing.T, base, token string) func(method, path, body string) map[string]any {
	return func(method, path, body string) map[string]any {
		t.Helper()
		code, b := apiDo(t, method, base+path, token, body)
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		if code >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, code, b)
		}
		return out
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// A person signs in with a real browser on a phone-sized screen: switches to Spanish,
// asks for a link, opens it from the local mailbox, and the link page's script signs
// them in (the strict CSP must allow it). No page scrolls sideways on the phone.
func TestBrowserSignInOnPhone(t *testing.T) {
	skipShort(t, "starts the binary and a browser")
	ctx := newBrowser(t)
	bin := buildBinary(t)
	in := start(t, bin, cleanEnv("PUENTE_DATA_DIR="+dataDir(t)))

	noSideScroll := func(page string) {
		t.Helper()
		if w := eval[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
			t.Errorf("%s scrolls sideways on a phone by %d px", page, w)
		}
	}

	step(t, ctx, "open home", chromedp.EmulateViewport(390, 844), chromedp.Navigate(in.baseURL+"/"),
		chromedp.WaitVisible(chromedp.CSS("h1")))
	if h := eval[string](t, ctx, `document.querySelector("h1").textContent`); !strings.Contains(h, "time zones") {
		t.Fatalf("home heading: %q", h)
	}
	noSideScroll("home")

	// On a phone the navigation and the languages are behind the menu button.
	step(t, ctx, "open the menu", chromedp.Click(chromedp.CSS(`[data-menu-button]`)), chromedp.WaitVisible(chromedp.CSS(`a[hreflang="es"]`)))
	step(t, ctx, "switch to Spanish", chromedp.Click(chromedp.CSS(`a[hreflang="es"]`)))
	waitFor(t, ctx, "Spanish page", `document.documentElement.lang === "es" && document.readyState === "complete"`)
	step(t, ctx, "sign-in form", chromedp.Click(chromedp.CSS(`[data-menu-button]`)), chromedp.Click(chromedp.CSS(`a.button[href^="/sign-in"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#email`)))
	noSideScroll("sign-in")
	step(t, ctx, "ask for a link", chromedp.SendKeys(chromedp.CSS(`#email`), "lucia@example.cl"),
		chromedp.Submit(chromedp.CSS(`#email`)), chromedp.WaitVisible(chromedp.CSS(`#signin-sent`)))
	if txt := eval[string](t, ctx, `document.querySelector("#signin-sent").textContent`); !strings.Contains(txt, "lucia@example.cl") {
		t.Fatalf("confirmation: %q", txt)
	}

	step(t, ctx, "open the mailbox", chromedp.Navigate(in.baseURL+"/dev/mail"),
		chromedp.Click(chromedp.CSS(`.mail-list a`)), chromedp.WaitVisible(chromedp.CSS(`.mail-body a`)))
	noSideScroll("mail message")
	step(t, ctx, "follow the link", chromedp.Click(chromedp.CSS(`.mail-body a`)))
	waitFor(t, ctx, "signed in", `location.pathname === "/" && document.body.textContent.includes("Has iniciado sesión")`)
	if who := eval[string](t, ctx, `document.querySelector("main").textContent`); !strings.Contains(who, "lucia@example.cl") {
		t.Fatalf("not signed in as lucia: %q", who)
	}

	step(t, ctx, "profile", chromedp.Navigate(in.baseURL+"/profile"), chromedp.WaitVisible(chromedp.CSS(`#profile-form`)))
	noSideScroll("profile")
	in.stop()
}

// firstThursdayOfJanuary is the first Thursday of January next year: always ahead (the real
// binary runs on the real clock), with London on GMT and Santiago on -03, so 15:00 London
// is 12:00 in Santiago.
func firstThursdayOfJanuary() time.Time {
	d := time.Date(time.Now().Year()+1, 1, 1, 0, 0, 0, 0, time.UTC)
	for d.Weekday() != time.Thursday {
		d = d.AddDate(0, 0, 1)
	}
	return d
}
