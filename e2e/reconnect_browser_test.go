package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/chromedp/chromedp"
)

// liveRoom is a running server with an occurrence whose room is open now, a host signed in
// with a media browser, and an attendee (ana) registered and signed in with another.
type liveRoom struct {
	in        *instance
	bin       string
	env       []string
	room      string // the room page's URL
	host, ana context.Context
}

func openLiveRoom(t *testing.T, title string) liveRoom {
	t.Helper()
	return openRoomWith(t, title, newMediaBrowser)
}

// openRoomWith is openLiveRoom with the host's browser made by newHost, and extra
// environment for the server.
func openRoomWith(t *testing.T, title string, newHost func(*testing.T) context.Context, extraEnv ...string) liveRoom {
	t.Helper()
	bin := buildBinary(t)
	env := cleanEnv(append([]string{"PUENTE_DATA_DIR=" + dataDir(t), "PUENTE_RTC_LOOPBACK_ONLY=true", "PUENTE_LOG_LEVEL=debug"}, extraEnv...)...)
	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "host@example.org", "--admin")
	token := lastLine(runCLI(t, bin, env, 0, "admin", "token", "create", "--email", "host@example.org"))
	in := start(t, bin, env)
	api := apiCaller(t, in.baseURL, token)
	start := time.Now().UTC().Add(10 * time.Minute).Truncate(time.Minute)
	s := api("POST", "/api/v1/series", fmt.Sprintf(`{"title":%q,"timezone":"UTC","start_date":"%s",
		"start_time":"%s","join_window_minutes":30}`, title, start.Format(time.DateOnly), start.Format("15:04")))
	occ := api("GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=%s&to=%s", s["id"], start.Format(time.DateOnly), start.Format(time.DateOnly)), "")
	occID := occ["items"].([]any)[0].(map[string]any)["id"]

	ana := newMediaBrowser(t)
	browserSignIn(t, ana, in.baseURL, "ana@example.org")
	step(t, ana, "register", chromedp.Navigate(fmt.Sprintf("%s/occurrences/%v", in.baseURL, occID)), chromedp.WaitVisible(chromedp.CSS(`#register-form`)),
		chromedp.SendKeys(chromedp.CSS(`#reg-affiliation`), "Universidad de Chile"), chromedp.Submit(chromedp.CSS(`#register-form`)))
	waitFor(t, ana, "registered", `(document.getElementById("registration-status") || {}).textContent?.includes("You are registered")`)

	host := newHost(t)
	browserSignIn(t, host, in.baseURL, "host@example.org")
	return liveRoom{in: in, bin: bin, env: env, room: fmt.Sprintf("%s/occurrences/%v/room", in.baseURL, occID), host: host, ana: ana}
}

// catalogue reads one text of the English catalogue, as the page shows it.
func catalogue(t *testing.T, key string) string {
	t.Helper()
	var m map[string]any
	b, err := os.ReadFile("../frontend/locales/en.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := toml.Unmarshal(b, &m); err != nil {
		t.Fatalf("en.toml: %v", err)
	}
	v, ok := m[key].(string)
	if !ok {
		t.Fatalf("en.toml has no %s", key)
	}
	return v
}

// setOffline takes the page off the network (true) or back on (false) through the DevTools
// protocol: Network.emulateNetworkConditions (offline, which also makes navigator.onLine
// false and fires "offline"); see the report for what it does to an open websocket.
func setOffline(offline bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if err := t.Call(ctx, "Network.enable", map[string]any{}, nil); err != nil {
			return fmt.Errorf("Network.enable: %w", err)
		}
		params := map[string]any{"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
		if err := t.Call(ctx, "Network.emulateNetworkConditions", params, nil); err != nil {
			return fmt.Errorf("Network.emulateNetworkConditions: %w", err)
		}
		return nil
	})
}

// watchVideo starts counting the frames shown by the current speaker video (the element is
// looked up again if it is replaced) into window.__frames, from zero.
const watchVideo = `(() => {
	window.__frames = 0;
	window.__watch = (window.__watch || 0) + 1;
	const gen = window.__watch;
	const tick = () => {
		if (gen !== window.__watch) return;
		const v = document.querySelector('video[data-participant][data-source="camera"]');
		if (!v || !v.isConnected) { setTimeout(tick, 100); return; }
		let done = false;
		v.requestVideoFrameCallback(() => { if (!done) { done = true; window.__frames++; tick(); } });
		// An element taken off the page never calls back: look again.
		setTimeout(() => { if (!done && !v.isConnected) { done = true; tick(); } }, 500);
	};
	tick();
})()`

// framesDecoded is the video frames the down connection decoded so far.
const framesDecoded = `(async () => {
	let n = 0;
	const pc = window.puenteLive.downPC;
	if (!pc) return 0;
	for (const r of (await pc.getStats()).values()) if (r.type === "inbound-rtp" && r.kind === "video") n += r.framesDecoded || 0;
	return n;
})()`

// A host publishes the fake camera and an attendee watches; the attendee's page goes off
// the network for 5 s. Her page says it is reconnecting, comes back by itself (no reload)
// with the same participant id, and plays the speaker's video again; the host's page never
// showed her leaving (shown as reconnecting is fine).
func TestBrowserLiveReconnect(t *testing.T) {
	skipShort(t, "starts the binary and browsers")
	r := openLiveRoom(t, "Live Reconnection Seminar")
	host, ana := r.host, r.ana

	step(t, host, "host opens the room", chromedp.Navigate(r.room), joinRoom())
	waitFor(t, host, "host connected", `document.querySelector('#live-status')?.dataset.state === "connected"`)
	step(t, host, "host goes live", chromedp.Click(chromedp.CSS(`#publish-button`)))
	waitFor(t, host, "host publishing", `!!window.puenteLive?.upPC && window.puenteLive.upPC.connectionState === "connected"`)
	// Every change of the host's list of people, and every "left" the host's client gets.
	step(t, host, "record the host's list", chromedp.Evaluate[chromedp.Void](`(() => {
		window.__lists = [];
		window.__left = [];
		const ul = document.getElementById("participants");
		const snap = () => window.__lists.push([...ul.querySelectorAll("li[data-participant-id]")]
			.map((li) => ({ id: li.dataset.participantId, reconnecting: li.dataset.reconnecting === "true" })));
		new MutationObserver(snap).observe(ul, { childList: true, subtree: true, attributes: true });
		snap();
		window.puenteLive.addEventListener("left", (e) => window.__left.push(String(e.detail.participant_id)));
	})()`))

	step(t, ana, "attendee opens the room", chromedp.Navigate(r.room), joinRoom())
	waitFor(t, ana, "attendee connected", `document.querySelector('#live-status')?.dataset.state === "connected"`)
	step(t, ana, "record the attendee's status", chromedp.Evaluate[chromedp.Void](`(() => {
		window.__page = "not reloaded";
		window.__status = [];
		const s = document.getElementById("live-status");
		const rec = () => window.__status.push({ state: s.dataset.state, text: s.textContent });
		new MutationObserver(rec).observe(s, { attributes: true, childList: true, characterData: true, subtree: true });
	})()`), chromedp.Evaluate[chromedp.Void](recordClient))
	step(t, ana, "watch frames", chromedp.Evaluate[chromedp.Void](watchVideo))
	waitFor(t, ana, "speaker's video plays", `(() => {
		const v = document.querySelector('video[data-participant][data-source="camera"]');
		return !!v && v.videoWidth > 0 && window.__frames > 2;
	})()`)
	anaID := eval[string](t, ana, `String(window.puenteLive.you.id)`)
	waitFor(t, host, "host lists the attendee", fmt.Sprintf(`window.__lists.some((l) => l.some((p) => p.id === %q))`, anaID))

	// Five seconds off the network.
	framesAtOffline := eval[int](t, ana, `window.__frames`)
	step(t, ana, "go offline", setOffline(true))
	offlineAt := time.Now()
	waitFor(t, ana, "the attendee's page says it is reconnecting", `document.querySelector('#live-status')?.dataset.state === "reconnecting"`)
	t.Logf("the page showed reconnecting %v after going offline", time.Since(offlineAt).Round(time.Millisecond))
	waitFor(t, ana, "the stage says it is reconnecting", `!document.getElementById("reconnecting-notice").hidden`)
	if rest := 5*time.Second - time.Since(offlineAt); rest > 0 {
		time.Sleep(rest)
	}
	t.Logf("frames shown while offline: %d (Chromium's offline emulation leaves loopback WebRTC alone)", eval[int](t, ana, `window.__frames`)-framesAtOffline)
	step(t, ana, "back online", setOffline(false))
	onlineAt := time.Now()
	waitFor(t, ana, "the attendee is back", `document.querySelector('#live-status')?.dataset.state === "connected"`)
	t.Logf("back in the room %v after coming online", time.Since(onlineAt).Round(time.Millisecond))
	waitFor(t, ana, "the reconnecting notice goes", `document.getElementById("reconnecting-notice").hidden`)

	want := catalogue(t, "live.reconnecting")
	shown := eval[bool](t, ana, fmt.Sprintf(`window.__status.some((s) => s.state === "reconnecting" && s.text === %q)`, want))
	if !shown {
		t.Errorf("the attendee's page never showed %q; statuses: %s", want, eval[string](t, ana, `JSON.stringify(window.__status)`))
	}
	if page := eval[string](t, ana, `window.__page || "reloaded"`); page != "not reloaded" {
		t.Fatal("the attendee's page was reloaded")
	}
	if id := eval[string](t, ana, `String(window.puenteLive.you.id)`); id != anaID {
		t.Errorf("participant id after the reconnection is %s, was %s", id, anaID)
	}

	// The speaker's video plays again: new frames shown and decoded after the reconnection.
	step(t, ana, "count frames again", chromedp.Evaluate[chromedp.Void](watchVideo))
	waitFor(t, ana, "speaker's video plays again", `(() => {
		const v = document.querySelector('video[data-participant][data-source="camera"]');
		return !!v && v.videoWidth > 0 && !v.paused && window.__frames > 5;
	})()`)
	decodedA, err := chromedp.Run(ana, chromedp.Evaluate[float64](framesDecoded, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ana, "frames still being decoded", fmt.Sprintf(`%s.then((n) => n > %v)`, framesDecoded, decodedA))
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
	if bytes.Equal(first, shot()) {
		t.Error("after the reconnection two screenshots of the speaker's video 400 ms apart are identical")
	}

	// The host's page never showed her leaving.
	if left := eval[string](t, host, `JSON.stringify(window.__left)`); strings.Contains(left, `"`+anaID+`"`) {
		t.Errorf("the host's client got left for the attendee: %s", left)
	}
	gone := eval[int](t, host, fmt.Sprintf(`(() => {
		const first = window.__lists.findIndex((l) => l.some((p) => p.id === %[1]q));
		return window.__lists.slice(first).filter((l) => !l.some((p) => p.id === %[1]q)).length;
	})()`, anaID))
	if gone > 0 {
		t.Errorf("the host's list of people lacked the attendee %d times: %s", gone, eval[string](t, host, `JSON.stringify(window.__lists)`))
	}
	t.Logf("host saw the attendee as reconnecting: %v", eval[bool](t, host, fmt.Sprintf(`window.__lists.some((l) => l.some((p) => p.id === %q && p.reconnecting))`, anaID)))
	waitFor(t, host, "host lists the attendee as back", fmt.Sprintf(`(() => {
		const li = document.querySelector('#participants li[data-participant-id=%q]');
		return !!li && li.dataset.reconnecting === "false";
	})()`, anaID))

	// A websocket closed under her (no leave): for the second or so until she is back, the
	// host's page shows her as reconnecting, with the catalogue's label, not as gone.
	step(t, ana, "drop the websocket", chromedp.Evaluate[chromedp.Void](`window.puenteLive.ws.close()`))
	waitFor(t, host, "host shows the attendee reconnecting", fmt.Sprintf(`(() => {
		const li = document.querySelector('#participants li[data-participant-id=%q]');
		return !!li && li.dataset.reconnecting === "true" && li.textContent.includes(%q);
	})()`, anaID, want))
	waitFor(t, host, "and back", fmt.Sprintf(`(() => {
		const li = document.querySelector('#participants li[data-participant-id=%q]');
		return !!li && li.dataset.reconnecting === "false";
	})()`, anaID))
	if id := eval[string](t, ana, `String(window.puenteLive.you.id)`); id != anaID {
		t.Errorf("participant id after the second reconnection is %s, was %s", id, anaID)
	}
	if gone := eval[int](t, host, fmt.Sprintf(`(() => {
		const first = window.__lists.findIndex((l) => l.some((p) => p.id === %[1]q));
		return window.__lists.slice(first).filter((l) => !l.some((p) => p.id === %[1]q)).length;
	})()`, anaID)); gone > 0 {
		t.Errorf("the host's list of people lacked the attendee %d times", gone)
	}
	t.Logf("attendee's client: %s", eval[string](t, ana, `JSON.stringify(window.__client)`))
}

// recordClient records on a page what its live client went through: attempts to come back,
// welcomes (resumed, media_kept), ICE restarts and peer connection states.
const recordClient = `(() => {
	const c = window.puenteLive;
	window.__client = { attempts: 0, welcomes: [], icerestarts: [], pc: [] };
	c.addEventListener("state", (e) => { if (e.detail.state === "reconnecting") window.__client.attempts = Math.max(window.__client.attempts, e.detail.attempt || 0); });
	c.addEventListener("welcome", (e) => window.__client.welcomes.push({ resumed: !!e.detail.resumed, media_kept: !!e.detail.media_kept }));
	c.addEventListener("icerestart", (e) => window.__client.icerestarts.push(e.detail.pc));
	c.addEventListener("pcstate", (e) => window.__client.pc.push(e.detail.pc + ":" + e.detail.state));
})()`

// startAt is start on a given web port (a restart on the same address, so the pages'
// websockets find the server again).
func startAt(t *testing.T, bin string, env []string, port string) *instance {
	t.Helper()
	in := &instance{t: t, baseURL: "http://127.0.0.1:" + port, log: &lockedBuffer{}, done: make(chan error, 1)}
	in.cmd = exec.Command(bin)
	in.cmd.Env = append(slices.Clip(env), "PUENTE_ADDR=127.0.0.1:"+port)
	stdout, err := in.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in.cmd.Stderr = in.log
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			in.log.Write([]byte("stdout: " + sc.Text() + "\n"))
		}
		in.done <- in.cmd.Wait()
	}()
	t.Cleanup(func() {
		if in.cmd.ProcessState == nil {
			_ = in.cmd.Process.Kill()
			<-in.done
		}
		if t.Failed() {
			t.Logf("restarted puente output:\n%s", in.log.String())
		}
	})
	for deadline := time.Now().Add(120 * time.Second); ; {
		res, err := http.Get(in.baseURL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return in
			}
		}
		select {
		case err := <-in.done:
			t.Fatalf("restarted puente exited: %v\n%s", err, in.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted puente not ready after 120 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The server stops (SIGTERM: bye "shutdown") and starts again on the same data and address
// while a host publishes the fake camera and an attendee watches. Both pages come back by
// themselves, as the same participants, without a reload; the host publishes again without
// asking for the camera again; the attendee plays the host's video again, and the chat is
// neither lost nor doubled.
func TestBrowserLiveServerRestart(t *testing.T) {
	skipShort(t, "starts the binary twice and browsers")
	r := openLiveRoom(t, "Live Restart Seminar")
	host, ana := r.host, r.ana

	step(t, host, "host opens the room", chromedp.Navigate(r.room), joinRoom())
	waitFor(t, host, "host connected", `document.querySelector('#live-status')?.dataset.state === "connected"`)
	step(t, host, "host goes live", chromedp.Click(chromedp.CSS(`#publish-button`)))
	waitFor(t, host, "host publishing", `!!window.puenteLive?.upPC && window.puenteLive.upPC.connectionState === "connected"`)
	step(t, host, "count device requests", chromedp.Evaluate[chromedp.Void](`(() => {
		window.__page = "not reloaded";
		window.__gum = 0;
		const md = navigator.mediaDevices, orig = md.getUserMedia.bind(md);
		md.getUserMedia = (...a) => { window.__gum++; return orig(...a); };
	})()`), chromedp.Evaluate[chromedp.Void](recordClient))
	step(t, ana, "attendee opens the room", chromedp.Navigate(r.room), joinRoom())
	waitFor(t, ana, "attendee connected", `document.querySelector('#live-status')?.dataset.state === "connected"`)
	step(t, ana, "record", chromedp.Evaluate[chromedp.Void](`window.__page = "not reloaded"`), chromedp.Evaluate[chromedp.Void](recordClient),
		chromedp.Evaluate[chromedp.Void](watchVideo))
	waitFor(t, ana, "speaker's video plays", `(() => {
		const v = document.querySelector('video[data-participant][data-source="camera"]');
		return !!v && v.videoWidth > 0 && window.__frames > 2;
	})()`)
	step(t, host, "host chats", chromedp.SendKeys(chromedp.CSS(`#chat-form textarea[name=text]`), "Before the restart"),
		chromedp.Click(chromedp.CSS(`#chat-form button[type=submit]`)))
	waitFor(t, ana, "attendee has the chat", `[...document.querySelectorAll('#chat-log li')].some(li => li.textContent.includes("Before the restart"))`)
	anaID := eval[string](t, ana, `String(window.puenteLive.you.id)`)
	hostID := eval[string](t, host, `String(window.puenteLive.you.id)`)

	u, err := url.Parse(r.in.baseURL)
	if err != nil {
		t.Fatal(err)
	}
	stopOrDump(t, r.in)
	waitFor(t, ana, "the attendee's page says it is reconnecting", `document.querySelector('#live-status')?.dataset.state === "reconnecting"`)
	in := startAt(t, r.bin, r.env, u.Port())
	ready := time.Now()
	waitFor(t, ana, "the attendee is back", `document.querySelector('#live-status')?.dataset.state === "connected"`)
	waitFor(t, host, "the host is back", `document.querySelector('#live-status')?.dataset.state === "connected"`)
	t.Logf("both pages connected %v after /readyz", time.Since(ready).Round(time.Millisecond))
	waitFor(t, host, "host publishing again", `!!window.puenteLive?.upPC && window.puenteLive.upPC.connectionState === "connected"`)
	step(t, ana, "count frames again", chromedp.Evaluate[chromedp.Void](watchVideo))
	waitFor(t, ana, "speaker's video plays again", `(() => {
		const v = document.querySelector('video[data-participant][data-source="camera"]');
		return !!v && v.videoWidth > 0 && !v.paused && window.__frames > 5;
	})()`)
	t.Logf("the attendee plays the host's video again %v after /readyz", time.Since(ready).Round(time.Millisecond))

	for _, p := range []struct {
		name string
		ctx  context.Context
		id   string
	}{{"host", host, hostID}, {"attendee", ana, anaID}} {
		if page := eval[string](t, p.ctx, `window.__page || "reloaded"`); page != "not reloaded" {
			t.Errorf("the %s's page was reloaded", p.name)
		}
		if id := eval[string](t, p.ctx, `String(window.puenteLive.you.id)`); id != p.id {
			t.Errorf("the %s's participant id after the restart is %s, was %s", p.name, id, p.id)
		}
		t.Logf("%s's client: %s", p.name, eval[string](t, p.ctx, `JSON.stringify(window.__client)`))
	}
	if n := eval[int](t, host, `window.__gum`); n != 0 {
		t.Errorf("the host's page asked for the camera %d times to publish again", n)
	}
	if n := eval[int](t, ana, `[...document.querySelectorAll('#chat-log li')].filter(li => li.textContent.includes("Before the restart")).length`); n != 1 {
		t.Errorf("the attendee's chat shows the message %d times", n)
	}
	step(t, ana, "attendee chats", chromedp.SendKeys(chromedp.CSS(`#chat-form textarea[name=text]`), "After the restart"),
		chromedp.Click(chromedp.CSS(`#chat-form button[type=submit]`)))
	waitFor(t, host, "host gets it", `[...document.querySelectorAll('#chat-log li')].some(li => li.textContent.includes("After the restart"))`)
	stopOrDump(t, in)
}

// stopOrDump is instance.stop, except that a server still running 30 s after SIGTERM is
// made to print its goroutines (SIGQUIT, which also ends it) and the test goes on after
// reporting the hang, so the rest of the scenario is still checked.
func stopOrDump(t *testing.T, in *instance) {
	t.Helper()
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-in.done:
		if err != nil {
			t.Errorf("puente exited with %v after SIGTERM", err)
		}
		return
	case <-time.After(30 * time.Second):
	}
	_ = in.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		_ = in.cmd.Process.Kill()
		<-in.done
	}
	t.Errorf("puente still running 30 s after SIGTERM; its goroutines:\n%s", goroutinesOf(in.log.String()))
}

// goroutinesOf cuts a SIGQUIT dump out of a process's output.
func goroutinesOf(out string) string {
	if i := strings.Index(out, "SIGQUIT"); i >= 0 {
		return out[i:]
	}
	return out
}

// waitForLong is waitFor with a minute: Chromium takes a while to call a silent ICE
// connection disconnected or failed.
func waitForLong(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(sctx, chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s still false (last error %v)", what, expr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cutMedia drops every WebRTC packet of the page (true) or stops doing so (false), leaving
// its websocket alone: Network.emulateNetworkConditionsByRule with global conditions, which
// Chromium applies to peer-to-peer connections too.
func cutMedia(cut bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if err := t.Call(ctx, "Network.enable", map[string]any{}, nil); err != nil {
			return fmt.Errorf("Network.enable: %w", err)
		}
		loss := 0
		if cut {
			loss = 100
		}
		rule := map[string]any{"urlPattern": "", "offline": false, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1, "packetLoss": loss}
		if err := t.Call(ctx, "Network.emulateNetworkConditionsByRule", map[string]any{"matchedNetworkConditions": []any{rule}}, nil); err != nil {
			return fmt.Errorf("Network.emulateNetworkConditionsByRule: %w", err)
		}
		return nil
	})
}

// Only the media path of the attendee breaks (every WebRTC packet dropped for a while, the
// websocket fine): her client restarts ICE on the down connection with "restart", keeps
// its websocket and participant, and the speaker's video plays again.
func TestBrowserLiveICERestart(t *testing.T) {
	skipShort(t, "starts the binary and browsers")
	r := openLiveRoom(t, "Live ICE Seminar")
	host, ana := r.host, r.ana

	step(t, host, "host opens the room", chromedp.Navigate(r.room), joinRoom())
	waitFor(t, host, "host connected", `document.querySelector('#live-status')?.dataset.state === "connected"`)
	step(t, host, "host goes live", chromedp.Click(chromedp.CSS(`#publish-button`)))
	waitFor(t, host, "host publishing", `!!window.puenteLive?.upPC && window.puenteLive.upPC.connectionState === "connected"`)
	// Conditions set before the page's sockets open apply to them (a later change too).
	step(t, ana, "attendee opens the room", cutMedia(false), chromedp.Navigate(r.room), joinRoom())
	waitFor(t, ana, "attendee connected", `document.querySelector('#live-status')?.dataset.state === "connected"`)
	step(t, ana, "record", chromedp.Evaluate[chromedp.Void](recordClient), chromedp.Evaluate[chromedp.Void](`(() => {
		window.__ws = window.puenteLive.ws;
		const pc = window.puenteLive.downPC, t0 = Date.now();
		window.__client.ice = [];
		pc.addEventListener("iceconnectionstatechange", () => window.__client.ice.push(pc.iceConnectionState + "@" + (Date.now() - t0)));
	})()`),
		chromedp.Evaluate[chromedp.Void](watchVideo))
	waitFor(t, ana, "speaker's video plays", `(() => {
		const v = document.querySelector('video[data-participant][data-source="camera"]');
		return !!v && v.videoWidth > 0 && window.__frames > 2;
	})()`)
	anaID := eval[string](t, ana, `String(window.puenteLive.you.id)`)

	step(t, ana, "cut the media path", cutMedia(true))
	cutAt := time.Now()
	waitForLong(t, ana, "ICE restarted on the down connection", `window.__client.icerestarts.includes("down")`)
	t.Logf("ICE restart %v after the media path was cut", time.Since(cutAt).Round(time.Millisecond))
	step(t, ana, "mend it", cutMedia(false))
	step(t, ana, "count frames again", chromedp.Evaluate[chromedp.Void](watchVideo))
	waitFor(t, ana, "speaker's video plays again", `(() => {
		const v = document.querySelector('video[data-participant][data-source="camera"]');
		return !!v && v.videoWidth > 0 && !v.paused && window.__frames > 5 && window.puenteLive.downPC.iceConnectionState === "connected";
	})()`)
	if same := eval[bool](t, ana, `window.puenteLive.ws === window.__ws && window.puenteLive.connected`); !same {
		t.Errorf("the websocket was replaced: %s", eval[string](t, ana, `JSON.stringify(window.__client)`))
	}
	if id := eval[string](t, ana, `String(window.puenteLive.you.id)`); id != anaID {
		t.Errorf("participant id %s, was %s", id, anaID)
	}
	t.Logf("attendee's client: %s", eval[string](t, ana, `JSON.stringify(window.__client)`))
}
