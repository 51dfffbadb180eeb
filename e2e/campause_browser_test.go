package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// noSimulcast makes the page's browser publish its camera the way a browser without
// simulcast does: addTransceiver is given no sendEncodings, so the camera goes out in one
// encoding without a rid.
const noSimulcast = `(() => {
	const add = RTCPeerConnection.prototype.addTransceiver;
	RTCPeerConnection.prototype.addTransceiver = function (track, init) {
		if (init && init.sendEncodings) {
			init = Object.assign({}, init);
			delete init.sendEncodings;
		}
		return add.call(this, track, init);
	};
})()`

// A host whose browser publishes the camera without simulcast, alone in the room: nobody
// shows the camera, so the server says "layers" {"": false} and the page turns its one
// encoding off (the browser stops sending it), while the host's own preview goes on. An
// attendee coming in gets it back: {"": true}, the encoding is on again and the attendee's
// page decodes the camera.
func TestBrowserWholeCameraPaused(t *testing.T) {
	skipShort(t, "starts the binary and two browsers")
	r := openLiveRoom(t, "Whole Camera Seminar")
	host, ana := r.host, r.ana
	step(t, host, "record what the page sends", onNewDocument(recordSent))
	step(t, host, "publish without simulcast", onNewDocument(noSimulcast))

	step(t, host, "host opens the room", chromedp.Navigate(r.room), joinRoom())
	waitFor(t, host, "host connected", `document.querySelector('#live-status')?.dataset.state === "connected"`)
	step(t, host, "host goes live", chromedp.Click(chromedp.CSS(`#publish-button`)))
	check(t, host, 30*time.Second, "host publishing", `!!window.puenteLive?.upPC && window.puenteLive.upPC.connectionState === "connected"`)
	encodings := `JSON.stringify(window.puenteLive._upTransceivers.camera.sender.getParameters().encodings.map((e) => (e.rid || "") + ":" + e.active))`
	if got := eval[string](t, host, encodings); got != `[":true"]` && got != `[":false"]` {
		t.Fatalf("camera encodings %s, want one without a rid", got)
	}

	wholeSaid := func(on bool) string {
		return `window.__received.some((m) => m.type === "layers" && m.source === "camera" && m.active && m.active[""] === ` +
			map[bool]string{true: "true", false: "false"}[on] + `)`
	}
	sentBytes := `(async () => {
		let b = 0;
		for (const r of (await window.puenteLive.upPC.getStats()).values()) if (r.type === "outbound-rtp" && r.kind === "video") b += r.bytesSent || 0;
		return b;
	})()`
	check(t, host, 20*time.Second, `the server says nobody needs the camera ("": false)`, wholeSaid(false))
	check(t, host, 10*time.Second, "the camera's encoding is off", encodings+` === '[":false"]'`)
	time.Sleep(time.Second) // what was on the way leaves
	before := evalAwait[float64](t, host, sentBytes)
	time.Sleep(2 * time.Second)
	if after := evalAwait[float64](t, host, sentBytes); after-before > 2000 {
		t.Errorf("the browser sent %v bytes of video in 2 s with the camera off", after-before)
	}
	check(t, host, 10*time.Second, "the host's own preview goes on", `(() => {
		const v = document.querySelector('video[data-self][data-local-source="camera"]');
		return !!v && v.videoWidth > 0 && !v.paused && window.puenteLive.local.camera.readyState === "live";
	})()`)
	t.Logf("layers messages to the host: %s", eval[string](t, host, `JSON.stringify(window.__received.filter((m) => m.type === "layers"))`))

	step(t, ana, "attendee opens the room", chromedp.Navigate(r.room), joinRoom())
	waitFor(t, ana, "attendee connected", `document.querySelector('#live-status')?.dataset.state === "connected"`)
	check(t, host, 20*time.Second, `the server says the camera is needed ("": true)`, wholeSaid(true))
	check(t, host, 10*time.Second, "the camera's encoding is on again", encodings+` === '[":true"]'`)
	check(t, ana, 30*time.Second, "the attendee decodes the camera", `(() => {
		const v = document.querySelector('video[data-participant][data-source="camera"]');
		return !!v && v.videoWidth > 0;
	})()`)
	t.Logf("layers messages to the host: %s", eval[string](t, host, `JSON.stringify(window.__received.filter((m) => m.type === "layers"))`))
}
