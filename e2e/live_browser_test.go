package e2e

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// newMediaBrowser is newBrowser with Chromium's fake camera and microphone, autoplay, and
// WebRTC allowed on loopback (docs: ../shared/docs/testing.md).
func newMediaBrowser(t *testing.T) context.Context {
	t.Helper()
	return newBrowser(t,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
	)
}

// A host and an attendee open one occurrence's live room in two real browsers through the
// real server: the host publishes the fake camera; the attendee's page decodes it (frames
// decoded, a video size, a frame callback, and two screenshots that differ); chat goes both
// ways; the attendee raises a hand, the host's page shows it and invites her onto the
// stage, and her camera plays on the host's page.
func TestBrowserLiveRoom(t *testing.T) {
	skipShort(t, "starts the binary and browsers")
	bin := buildBinary(t)
	env := cleanEnv("PUENTE_DATA_DIR="+dataDir(t), "PUENTE_RTC_LOOPBACK_ONLY=true", "PUENTE_LOG_LEVEL=debug")
	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "host@example.org", "--admin")
	token := lastLine(runCLI(t, bin, env, 0, "admin", "token", "create", "--email", "host@example.org"))
	in := start(t, bin, env)

	api := apiCaller(t, in.baseURL, token)
	// A talk starting in ten minutes, its room open from thirty minutes before.
	start := time.Now().UTC().Add(10 * time.Minute).Truncate(time.Minute)
	s := api("POST", "/api/v1/series", fmt.Sprintf(`{"title":"Live Lithium Seminar","timezone":"UTC","start_date":"%s",
		"start_time":"%s","join_window_minutes":30}`, start.Format(time.DateOnly), start.Format("15:04")))
	occ := api("GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=%s&to=%s", s["id"], start.Format(time.DateOnly), start.Format(time.DateOnly)), "")
	occID := occ["items"].([]any)[0].(map[string]any)["id"]
	room := fmt.Sprintf("%s/occurrences/%v/room", in.baseURL, occID)

	ana := newMediaBrowser(t)
	browserSignIn(t, ana, in.baseURL, "ana@example.org")
	step(t, ana, "register", chromedp.Navigate(fmt.Sprintf("%s/occurrences/%v", in.baseURL, occID)), chromedp.WaitVisible(chromedp.CSS(`#register-form`)),
		chromedp.SendKeys(chromedp.CSS(`#reg-affiliation`), "Universidad de Chile"), chromedp.Submit(chromedp.CSS(`#register-form`)))
	waitFor(t, ana, "registered", `(document.getElementById("registration-status") || {}).textContent?.includes("You are registered")`)

	host := newMediaBrowser(t)
	browserSignIn(t, host, in.baseURL, "host@example.org")
	step(t, host, "host opens the room", chromedp.Navigate(room), joinRoom())
	waitFor(t, host, "host connected", `document.querySelector('#live-status')?.dataset.state === "connected"`)
	step(t, host, "host goes live", chromedp.Click(chromedp.CSS(`#publish-button`)))
	waitFor(t, host, "host publishing", `!!window.puenteLive?.upPC && window.puenteLive.upPC.connectionState === "connected"`)

	step(t, ana, "attendee opens the room", chromedp.Navigate(room), joinRoom())
	waitFor(t, ana, "attendee connected", `document.querySelector('#live-status')?.dataset.state === "connected"`)

	// Honest video checks: the decoder produced frames of a real size, the element shows
	// them, a frame callback fired, and the picture moves.
	video := `document.querySelector('video[data-participant][data-source="camera"]')`
	waitFor(t, ana, "a camera video element", video+` !== null`)
	step(t, ana, "watch frames", chromedp.Evaluate[chromedp.Void](`window.__frames = 0; (function tick(v) {
		if (!v) { setTimeout(() => tick(`+video+`), 100); return; }
		v.requestVideoFrameCallback(() => { window.__frames++; tick(v); });
	})(`+video+`)`))
	waitFor(t, ana, "frames decoded", `(async () => {
		const stats = await window.puenteLive.downPC.getStats();
		for (const r of stats.values()) {
			if (r.type === "inbound-rtp" && r.kind === "video" && r.framesDecoded > 0 && r.frameWidth > 0) return true;
		}
		return false;
	})()`)
	waitFor(t, ana, "video size", video+`.videoWidth > 0 && window.__frames > 2`)
	shot := func() []byte {
		sctx, cancel := context.WithTimeout(ana, 30*time.Second)
		defer cancel()
		png, err := chromedp.Run(sctx, chromedp.Screenshot(chromedp.CSS(`video[data-participant][data-source="camera"]`)))
		if err != nil {
			t.Fatalf("screenshot of the video: %v", err)
		}
		return png
	}
	first := shot()
	time.Sleep(400 * time.Millisecond)
	if second := shot(); bytes.Equal(first, second) {
		t.Fatal("two screenshots of the speaker's video 400 ms apart are identical: the picture is not live")
	}
	screenshot(t, ana, "live-attendee")

	// Chat both ways.
	step(t, ana, "attendee chats", chromedp.SendKeys(chromedp.CSS(`#chat-form textarea[name=text]`), "Hola desde Santiago"),
		chromedp.Click(chromedp.CSS(`#chat-form button[type=submit]`)))
	waitFor(t, host, "host sees the chat", `[...document.querySelectorAll('#chat-log li')].some(li => li.textContent.includes("Hola desde Santiago"))`)
	step(t, host, "host chats", chromedp.SendKeys(chromedp.CSS(`#chat-form textarea[name=text]`), "Welcome from London"),
		chromedp.Click(chromedp.CSS(`#chat-form button[type=submit]`)))
	waitFor(t, ana, "attendee sees the chat", `[...document.querySelectorAll('#chat-log li')].some(li => li.textContent.includes("Welcome from London"))`)

	// A raised hand reaches the host.
	step(t, ana, "raise hand", chromedp.Click(chromedp.CSS(`#hand-button`)))
	waitFor(t, host, "host sees the hand", `document.querySelector('#participants li[data-hand="true"]') !== null`)
	if p := eval[string](t, ana, `document.getElementById("hand-button").getAttribute("aria-pressed")`); p != "true" {
		t.Errorf("raised hand: aria-pressed=%q", p)
	}

	// The host invites the attendee onto the stage; without reloading, her camera reaches
	// the host's page and plays there.
	step(t, host, "invite to the stage", chromedp.Click(chromedp.CSS(`#tab-people`)), chromedp.Click(chromedp.CSS(`#participants li[data-hand="true"] button[data-action="invite"]`)))
	waitFor(t, ana, "attendee may publish", `(() => { const b = document.querySelector('#publish-button'); return !!b && !b.hidden && !b.disabled; })()`)
	step(t, ana, "attendee goes on stage", chromedp.Click(chromedp.CSS(`#publish-button`)))
	waitFor(t, host, "host receives the attendee's camera", `(() => {
		const v = document.querySelector('video[data-participant][data-source="camera"]');
		return !!v && v.videoWidth > 0 && !v.paused;
	})()`)
	waitFor(t, host, "host decodes it", `(async () => {
		const stats = await window.puenteLive.downPC.getStats();
		for (const r of stats.values()) {
			if (r.type === "inbound-rtp" && r.kind === "video" && r.framesDecoded > 0) return true;
		}
		return false;
	})()`)
	// Two on stage: a grid, or the one who spoke last large beside the other.
	waitFor(t, host, "two tiles on the stage", `document.getElementById("stage").dataset.tiles === "2"`)
	switch l := eval[string](t, host, `document.getElementById("stage").dataset.layout`); l {
	case "grid":
	case "speaker":
		if !eval[bool](t, host, `(() => { const f = document.querySelector("#stage-cameras figure.featured"), o = document.querySelector("#stage-cameras figure:not(.featured)");
			return !!f && !!o && f.getBoundingClientRect().width > o.getBoundingClientRect().width; })()`) {
			t.Error("the speaker layout does not show the speaker larger")
		}
	default:
		t.Errorf("stage layout with two on stage: %q", l)
	}
	// Whoever speaks is shown large: the page is told (as the server's speaker message
	// does) that the attendee speaks, then the host; the featured tile follows, and is
	// larger than the other.
	anaID := eval[string](t, host, `document.querySelector('#stage-cameras figure.tile:not([data-tile="self"])').dataset.tile`)
	hostID := eval[string](t, host, `window.puenteLive.you.id`)
	for _, who := range []struct{ id, tile string }{{anaID, anaID}, {hostID, "self"}} {
		step(t, host, "speaks: "+who.tile, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
			`(() => { const c = window.puenteLive; c._onMessage(c.ws, { data: JSON.stringify({ type: "speaker", participant_id: %q }) }); })()`, who.id)))
		waitFor(t, host, who.tile+" shown large", fmt.Sprintf(`(() => {
			const f = document.querySelector("#stage-cameras figure.featured"), o = document.querySelector("#stage-cameras figure.tile:not(.featured)");
			return document.getElementById("stage").dataset.layout === "speaker" && !!f && f.dataset.tile === %q &&
				!!o && f.getBoundingClientRect().width > o.getBoundingClientRect().width;
		})()`, who.tile))
	}
	screenshot(t, host, "live-host")
}
