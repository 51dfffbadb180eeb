package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// joinRoom passes the room page's device check: "Join the session".
func joinRoom() chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(`#join-button`))
}

// viewportShot saves what the window shows (not the whole page) as dir/name.png.
func viewportShot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// denyMedia makes the browser refuse the camera and microphone to origin, as a person
// who clicked "Block" would.
func denyMedia(origin string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		b := chromedp.FromContext(ctx).Browser
		for _, name := range []string{"camera", "microphone"} {
			if _, err := cdp.Call(ctx, b, browser.SetPermission, browser.SetPermissionParams{
				Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingDenied, Origin: origin,
			}); err != nil {
				return fmt.Errorf("deny %s: %w", name, err)
			}
		}
		return nil
	})
}

// outsideViewport lists the room's visible controls whose box is not wholly inside the
// window: the stage controls, the tabs, the chat box and its button.
const outsideViewport = `(() => {
	const sel = '#live-controls button, .live-tabs [role=tab], #chat-form textarea, #chat-form button, #shortcuts summary';
	const w = window.innerWidth, h = window.innerHeight, out = [];
	for (const b of document.querySelectorAll(sel)) {
		if (!b.offsetParent && getComputedStyle(b).position !== "fixed") continue; // not shown
		const r = b.getBoundingClientRect();
		if (r.width === 0 || r.height === 0) continue;
		if (r.left < 0 || r.top < 0 || r.right > w + 0.5 || r.bottom > h + 0.5) out.push((b.id || b.textContent.trim()) + " " + JSON.stringify([Math.round(r.left), Math.round(r.top), Math.round(r.right), Math.round(r.bottom)]));
	}
	return out.join("; ");
})()`

// watchSource is true once a video of source (camera or screen) from someone else has decoded
// frames of a real size, shows them, and a frame callback fired three times since watch.
func watchSource(source string) string {
	return fmt.Sprintf(`(() => {
		const key = "__frames_%[1]s";
		if (window[key] == null) {
			window[key] = 0;
			(function tick() {
				const v = document.querySelector('video[data-participant][data-source="%[1]s"]');
				if (!v) { setTimeout(tick, 100); return; }
				v.requestVideoFrameCallback(() => { window[key]++; tick(); });
			})();
		}
		const v = document.querySelector('video[data-participant][data-source="%[1]s"]');
		return !!v && v.videoWidth > 0 && window[key] > 3;
	})()`, source)
}

// videoFrames is the sum of decoded video frames on the receiving connection, and how
// many video streams decoded any.
const videoFrames = `(async () => {
	const stats = await window.puenteLive.downPC.getStats();
	let frames = 0, streams = 0;
	for (const r of stats.values()) {
		if (r.type === "inbound-rtp" && r.kind === "video" && r.framesDecoded > 0 && r.frameWidth > 0) { frames += r.framesDecoded; streams++; }
	}
	return [frames, streams];
})()`

// A speaker (the host) checks camera and microphone before joining: the preview plays,
// the level meter moves with the fake microphone's beeps, the devices are listed and a
// test sound plays. An attendee joins without a check; another joins with the camera
// and microphone blocked, is told so, and still gets in. The host shares the camera and a
// screen; both attendees decode both, advancing, with the screen large and the camera
// small beside it. Chat, a question and a raised hand (by keyboard shortcut) go round and
// are announced in the polite live region. At 1366×768 every control is in the window;
// screenshots at 1366×768 and 390×844 are kept.
func TestBrowserRoomStageAndPrejoin(t *testing.T) {
	skipShort(t, "starts the binary and browsers")
	r := openLiveRoom(t, "Room Stage Seminar")
	dir := artifactDir(t)
	host, ana := r.host, r.ana
	base := strings.TrimSuffix(r.room, r.room[strings.Index(r.room, "/occurrences/"):])

	// Bea: a phone-sized browser whose camera and microphone are blocked.
	bea := newBrowser(t, chromedp.WindowSize(390, 844),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("allow-loopback-in-peer-connection", true))
	step(t, bea, "block camera and microphone", denyMedia(base), chromedp.EmulateViewport(390, 844))
	browserSignIn(t, bea, base, "bea@example.org")
	occPage := strings.TrimSuffix(r.room, "/room")
	step(t, bea, "register", chromedp.Navigate(occPage), chromedp.WaitVisible(chromedp.CSS(`#register-form`)),
		chromedp.SendKeys(chromedp.CSS(`#reg-affiliation`), "Universidad de Buenos Aires"), chromedp.Submit(chromedp.CSS(`#register-form`)))
	waitFor(t, bea, "registered", `(document.getElementById("registration-status") || {}).textContent?.includes("You are registered")`)

	// The host's device check, at 1366×768.
	step(t, host, "laptop window", chromedp.EmulateViewport(1366, 768))
	step(t, host, "host opens the room", chromedp.Navigate(r.room), chromedp.WaitVisible(chromedp.CSS(`#prejoin`)))
	if eval[bool](t, host, `!document.getElementById("room-view").hidden || window.puenteLive.state !== "idle"`) {
		t.Fatal("the room connected before the person chose to join")
	}
	waitFor(t, host, "the preview plays", `(() => { const v = document.getElementById("prejoin-video"); return !v.hidden && v.videoWidth > 0 && !v.paused; })()`)
	waitFor(t, host, "devices listed", `document.querySelectorAll("#prejoin-camera option").length > 0 && !document.getElementById("prejoin-camera").disabled &&
		document.querySelectorAll("#prejoin-mic option").length > 0 && document.getElementById("prejoin-media-status").dataset.kind === "ready"`)
	step(t, host, "watch the meter", chromedp.Evaluate[chromedp.Void](`window.__level = 0; setInterval(() => {
		window.__level = Math.max(window.__level, document.getElementById("prejoin-level").value); }, 50)`))
	waitFor(t, host, "the level meter moves with the microphone", `window.__level > 0.01`)
	step(t, host, "test sound", chromedp.Click(chromedp.CSS(`#prejoin-tone`)))
	waitFor(t, host, "the test sound played", `document.getElementById("prejoin-tone").dataset.played === "true"`)
	if !eval[bool](t, host, `(() => { const r = document.getElementById("join-button").getBoundingClientRect(); return r.height > 0 && r.bottom <= innerHeight && r.right <= innerWidth; })()`) {
		t.Error("at 1366×768 the join button is not in the window")
	}
	viewportShot(t, host, dir, "prejoin-host-1366x768")
	runAxe(t, host, "pre-join (host)")
	step(t, host, "host joins", joinRoom())
	waitFor(t, host, "host connected", `document.querySelector('#live-status')?.dataset.state === "connected"`)
	if eval[bool](t, host, `!!document.getElementById("prejoin-video").srcObject`) {
		t.Error("the preview still holds the camera after joining")
	}
	step(t, host, "host goes live", chromedp.Click(chromedp.CSS(`#publish-button`)))
	waitFor(t, host, "host publishing", `!!window.puenteLive?.upPC && window.puenteLive.upPC.connectionState === "connected"`)

	// Share screen: off until it is on, and aria-pressed says which.
	if p := eval[string](t, host, `document.getElementById("screen-button").getAttribute("aria-pressed")`); p != "false" {
		t.Errorf("share screen before sharing: aria-pressed=%q", p)
	}
	waitFor(t, host, "share screen ready", `(() => { const b = document.getElementById("screen-button"); return !b.hidden && !b.disabled; })()`)
	step(t, host, "share the screen", chromedp.Click(chromedp.CSS(`#screen-button`)))
	waitFor(t, host, "sharing", `!!window.puenteLive.local.screen && document.getElementById("screen-button").getAttribute("aria-pressed") === "true"`)
	waitFor(t, host, "screen published", `(window.puenteLive.publishing || []).includes("screen")`)

	// Ana joins straight away (no check asked for: nothing asks for her camera).
	step(t, ana, "laptop window", chromedp.EmulateViewport(1366, 768))
	step(t, ana, "attendee opens the room", chromedp.Navigate(r.room), chromedp.WaitVisible(chromedp.CSS(`#prejoin`)))
	if eval[bool](t, ana, `!!document.getElementById("prejoin-video").srcObject`) {
		t.Error("the attendee's camera was asked for without her asking")
	}
	step(t, ana, "attendee joins", joinRoom())
	waitFor(t, ana, "attendee connected", `document.querySelector('#live-status')?.dataset.state === "connected"`)

	// Bea checks her devices: blocked, told so in words, and she joins all the same.
	step(t, bea, "attendee opens the room", chromedp.Navigate(r.room), chromedp.WaitVisible(chromedp.CSS(`#prejoin`)))
	viewportShot(t, bea, dir, "prejoin-attendee-390x844")
	step(t, bea, "check devices", chromedp.Click(chromedp.CSS(`#prejoin-check`)))
	waitFor(t, bea, "told the devices are blocked", `document.getElementById("prejoin-media-status").dataset.kind === "denied"`)
	if got, want := eval[string](t, bea, `document.getElementById("prejoin-media-status").textContent`), catalogue(t, "live.prejoin_denied"); got != want {
		t.Errorf("blocked devices: %q, want %q", got, want)
	}
	viewportShot(t, bea, dir, "prejoin-denied-390x844")
	runAxe(t, bea, "pre-join (attendee, camera and microphone blocked)")
	step(t, bea, "blocked attendee joins", joinRoom())
	waitFor(t, bea, "blocked attendee connected", `document.querySelector('#live-status')?.dataset.state === "connected"`)

	// Both attendees decode the camera and the screen, and the pictures advance.
	for _, v := range []struct {
		name string
		ctx  context.Context
	}{{"ana", ana}, {"bea", bea}} {
		waitFor(t, v.ctx, v.name+" decodes the camera", watchSource("camera"))
		waitFor(t, v.ctx, v.name+" decodes the screen", watchSource("screen"))
		waitFor(t, v.ctx, v.name+" decodes two videos", videoFrames+`.then(([f, n]) => n >= 2)`)
		first := evalAwait[[]float64](t, v.ctx, videoFrames)
		time.Sleep(time.Second)
		if second := evalAwait[[]float64](t, v.ctx, videoFrames); second[0] <= first[0] {
			t.Errorf("%s: frames decoded stuck at %v", v.name, first[0])
		}
		if l := eval[string](t, v.ctx, `document.getElementById("stage").dataset.layout`); l != "screen" {
			t.Errorf("%s: stage layout %q with a shared screen, want screen", v.name, l)
		}
		waitFor(t, v.ctx, v.name+" sees the connection quality", `(() => { const q = document.getElementById("conn-quality"); return !q.hidden && ["good", "fair", "poor"].includes(q.dataset.quality); })()`)
	}
	screenW := eval[float64](t, ana, `document.querySelector('figure.tile.screen').getBoundingClientRect().width`)
	camW := eval[float64](t, ana, `document.querySelector('figure.tile[data-tile]:not(.screen)').getBoundingClientRect().width`)
	if screenW < 2*camW {
		t.Errorf("the shared screen (%v px wide) is not prominent beside the camera (%v px)", screenW, camW)
	}

	// Chat: Ana writes; the host's page announces it.
	step(t, ana, "attendee chats", chromedp.SendKeys(chromedp.CSS(`#chat-text`), "Hola desde Santiago"),
		chromedp.Click(chromedp.CSS(`#chat-form button[type=submit]`)))
	waitFor(t, host, "host sees the chat", `[...document.querySelectorAll('#chat-log li')].some(li => li.textContent.includes("Hola desde Santiago"))`)
	waitFor(t, host, "chat announced", `document.querySelector('#room-announce[aria-live="polite"]').textContent.includes("Hola desde Santiago")`)
	if ts := eval[string](t, host, `document.querySelector('#chat-log li time').textContent`); len(ts) != 5 || ts[2] != ':' || strings.ContainsAny(ts, "apAP") {
		t.Errorf("chat time %q, want 24-hour HH:MM", ts)
	}

	// A key typed in a text box is text, not a shortcut.
	step(t, ana, "type h in the chat box", chromedp.SendKeys(chromedp.CSS(`#chat-text`), "h"))
	time.Sleep(300 * time.Millisecond)
	if eval[string](t, ana, `document.getElementById("hand-button").getAttribute("aria-pressed")`) != "false" {
		t.Error("typing h in the chat raised the hand")
	}

	// A question from Bea, on the questions tab; the host's page announces it.
	step(t, bea, "questions tab", chromedp.Click(chromedp.CSS(`#tab-questions`)))
	step(t, bea, "ask", chromedp.SendKeys(chromedp.CSS(`#question-text`), "¿Qué pasa con el litio boliviano?"),
		chromedp.Click(chromedp.CSS(`#question-form button[type=submit]`)))
	waitFor(t, host, "question announced", `document.getElementById("room-announce").textContent.includes("litio boliviano")`)
	step(t, host, "questions tab", chromedp.Click(chromedp.CSS(`#tab-questions`)))
	waitFor(t, host, "host sees the question", `[...document.querySelectorAll('#questions-open li')].some(li => li.textContent.includes("litio boliviano"))`)

	// Bea raises her hand with the keyboard shortcut (H), outside any text box.
	step(t, bea, "leave the text box", chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))
	step(t, bea, "press H", chromedp.KeyEvent("h"))
	waitFor(t, bea, "hand raised", `document.getElementById("hand-button").getAttribute("aria-pressed") === "true"`)
	handWords := strings.TrimPrefix(catalogue(t, "live.announce_hand"), "{name}")
	waitFor(t, host, "hand announced", fmt.Sprintf(`document.getElementById("room-announce").textContent.includes(%q)`, handWords))
	step(t, host, "people tab", chromedp.Click(chromedp.CSS(`#tab-people`)))
	waitFor(t, host, "host sees the hand", `document.querySelector('#participants li[data-hand="true"]') !== null`)
	// "Invite to stage": its accessible name begins with the words on it.
	name := eval[string](t, host, `(() => { const b = document.querySelector('#participants li[data-hand="true"] button[data-action="invite"]');
		return b.hasAttribute("aria-label") ? "aria-label: " + b.getAttribute("aria-label") : b.textContent; })()`)
	if !strings.HasPrefix(name, catalogue(t, "live.invite")) {
		t.Errorf("invite button's name %q does not begin with its visible label", name)
	}

	// Everything in the window at 1366×768, for the host and an attendee.
	for _, v := range []struct {
		name string
		ctx  context.Context
	}{{"host", host}, {"attendee", ana}} {
		if out := eval[string](t, v.ctx, outsideViewport); out != "" {
			t.Errorf("%s at 1366×768: controls outside the window: %s", v.name, out)
		}
		for _, id := range []string{"leave-button", "hand-button"} {
			if v.name == "host" && id == "hand-button" {
				continue // hosts have no hand to raise
			}
			if !eval[bool](t, v.ctx, fmt.Sprintf(`(() => { const b = document.getElementById(%q); const r = b.getBoundingClientRect();
				return !b.hidden && r.height > 0 && r.bottom <= innerHeight && r.right <= innerWidth; })()`, id)) {
				t.Errorf("%s at 1366×768: #%s is not in the window", v.name, id)
			}
		}
		if eval[bool](t, v.ctx, `document.querySelector("header.site").getBoundingClientRect().width + 1 < document.getElementById("live-room").getBoundingClientRect().width`) {
			t.Errorf("%s: the room is wider than the header", v.name)
		}
		viewportShot(t, v.ctx, dir, "room-"+v.name+"-1366x768")
		runAxe(t, v.ctx, "room ("+v.name+")")
	}

	// On a phone, portrait: no sideways scrolling, the controls on screen.
	for _, v := range []struct {
		name string
		ctx  context.Context
	}{{"host", host}, {"attendee", bea}} {
		step(t, v.ctx, "phone window", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		time.Sleep(300 * time.Millisecond)
		if eval[bool](t, v.ctx, `document.documentElement.scrollWidth > innerWidth + 1`) {
			t.Errorf("%s at 390×844: the page scrolls sideways (%v px)", v.name, eval[float64](t, v.ctx, `document.documentElement.scrollWidth`))
		}
		if out := eval[string](t, v.ctx, `(() => { const out = []; for (const b of document.querySelectorAll('#live-controls button')) {
			if (!b.offsetParent) continue; const r = b.getBoundingClientRect();
			if (r.top < 0 || r.bottom > innerHeight + 0.5 || r.right > innerWidth + 0.5) out.push(b.id); } return out.join(" "); })()`); out != "" {
			t.Errorf("%s at 390×844: controls off screen: %s", v.name, out)
		}
		viewportShot(t, v.ctx, dir, "room-"+v.name+"-390x844")
	}
}
