package live_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/live"
	"github.com/puente-org/puente/sfu"
	"github.com/puente-org/puente/signaling"
	"github.com/puente-org/puente/store"
	"github.com/puente-org/puente/store/livestore"
	"github.com/puente-org/puente/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is a live hub with real media on loopback, behind a real websocket server, over a
// real database with one occurrence and its people.
type env struct {
	t      *testing.T
	store  *store.Store
	pool   *pgxpool.Pool
	hub    *live.Hub
	tokens *live.Tokens
	srv    *httptest.Server
	occ    int64
	people map[string]domain.Person
	opts   live.Options
	hubMu  sync.Mutex
	reg    *prometheus.Registry
	// apis gives some clients their own WebRTC stack (a virtual network); others use
	// clientAPI.
	apis map[string]*webrtc.API
}

// metric reads one of the hub's metrics (a counter or gauge); label is the value of its
// one label, or "" for none.
func (e *env) metric(name, label string) float64 {
	e.t.Helper()
	families, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if label != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	e.t.Fatalf("no metric %s{%s}", name, label)
	return 0
}

func (e *env) currentHub() *live.Hub {
	e.hubMu.Lock()
	defer e.hubMu.Unlock()
	return e.hub
}

// restartHub stops the hub as a server stopping for a deploy does (everyone gets bye
// shutdown) and starts a new one on the same database, as the next process would.
func (e *env) restartHub() {
	e.t.Helper()
	old := e.currentHub()
	old.Close()
	h := live.NewHub(e.opts)
	if err := h.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.hubMu.Lock()
	e.hub = h
	e.hubMu.Unlock()
}

// otherOccurrence makes a second series with one occurrence, which ben attends too, and
// returns the occurrence's id.
func (e *env) otherOccurrence() int64 {
	e.t.Helper()
	ctx := context.Background()
	ev, err := e.store.CreateEvent(ctx, domain.Event{Kind: domain.KindSeries, Slug: "other", Title: "Other seminar", Language: "en",
		Visibility: "public", TimeZone: "UTC", StartDate: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), StartTime: "17:00",
		Duration: time.Hour, RRule: "FREQ=WEEKLY;COUNT=1", Registration: "open", Tags: []string{}}, e.people["host"].ID, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	occs, err := e.store.Occurrences(ctx, store.OccurrenceFilter{EventID: ev.ID})
	if err != nil || len(occs) != 1 {
		e.t.Fatalf("occurrences: %v %d", err, len(occs))
	}
	if _, err := e.store.Register(ctx, occs[0].Occurrence.ID, e.people["ben"].ID, store.RegistrationDetails{Name: "Ben"}, nil); err != nil {
		e.t.Fatal(err)
	}
	return occs[0].Occurrence.ID
}

// addAttendees registers n more people for the occurrence and returns their names.
func (e *env) addAttendees(n int) []string {
	e.t.Helper()
	ctx := context.Background()
	names := make([]string, n)
	for i := range n {
		name := fmt.Sprintf("guest%03d", i)
		p, err := e.store.CreatePerson(ctx, store.NewPerson{Email: name + "@example.org", Name: "Guest " + name[5:]})
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.store.Register(ctx, e.occ, p.ID, store.RegistrationDetails{Name: "Guest"}, nil); err != nil {
			e.t.Fatal(err)
		}
		e.people[name] = p
		names[i] = name
	}
	return names
}

func newEnv(t *testing.T, configure ...func(*sfu.Config)) *env {
	return newEnvWith(t, nil, configure...)
}

// newEnvWith is newEnv with the hub's options changed (a short grace period, say).
func newEnvWith(t *testing.T, hubOptions func(*live.Options), configure ...func(*sfu.Config)) *env {
	t.Helper()
	// Registered first, so it runs last: after the hub, the SFU and the database closed.
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	ctx := context.Background()
	// The store lives on the series' first day (occurrences are made from "now" on).
	pool := pgtest.New(t)
	st := store.New(pool, func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) })
	e := &env{t: t, store: st, pool: pool, people: map[string]domain.Person{}}
	for _, name := range []string{"host", "speaker", "ana", "ben", "carla", "dev"} {
		p, err := st.CreatePerson(ctx, store.NewPerson{Email: name + "@example.org", Name: strings.ToUpper(name[:1]) + name[1:], IsOrganiser: name == "host"})
		if err != nil {
			t.Fatal(err)
		}
		e.people[name] = p
	}
	ev, err := st.CreateEvent(ctx, domain.Event{Kind: domain.KindSeries, Slug: "live", Title: "Battery seminar", Language: "en",
		Visibility: "public", TimeZone: "UTC", StartDate: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), StartTime: "15:00",
		Duration: time.Hour, RRule: "FREQ=WEEKLY;COUNT=1", Registration: "open", Tags: []string{}}, e.people["host"].ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	occs, err := st.Occurrences(ctx, store.OccurrenceFilter{EventID: ev.ID})
	if err != nil || len(occs) != 1 {
		t.Fatalf("occurrences: %v %d", err, len(occs))
	}
	e.occ = occs[0].Occurrence.ID
	// The rooms check people's rights: the speaker is on the programme, the others are
	// registered (the host organises).
	speaker := e.people["speaker"].ID
	if _, err := st.UpdateOccurrence(ctx, e.occ, func(_ domain.Event, o *domain.Occurrence) error {
		o.Speakers = []domain.Speaker{{Name: "Speaker", Email: "speaker@example.org", PersonID: &speaker}}
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ana", "ben", "carla", "dev"} {
		if _, err := st.Register(ctx, e.occ, e.people[name].ID, store.RegistrationDetails{Name: strings.ToUpper(name[:1]) + name[1:]}, nil); err != nil {
			t.Fatal(err)
		}
	}

	cfg := sfu.Config{Network: sfu.Network{TCPPort: -1, LoopbackOnly: true}, KeyframeInterval: 200 * time.Millisecond}
	for _, c := range configure {
		c(&cfg)
	}
	media, err := sfu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	e.tokens = live.NewTokens(key)
	e.reg = prometheus.NewRegistry()
	opts := live.Options{Store: livestore.New(st), SFU: media, Tokens: e.tokens, Metrics: live.NewMetrics(e.reg),
		Conn: signaling.ConnOptions{Rate: 200, Burst: 400}, RightsEvery: 200 * time.Millisecond}
	if hubOptions != nil {
		hubOptions(&opts)
	}
	e.opts = opts
	e.hub = live.NewHub(opts)
	if err := e.hub.Start(ctx); err != nil {
		t.Fatal(err)
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		e.currentHub().Serve(r.Context(), ws)
	}))
	t.Cleanup(func() {
		e.currentHub().Close()
		e.srv.Close()
		if err := media.Close(); err != nil {
			t.Errorf("close sfu: %v", err)
		}
	})
	return e
}

func (e *env) token(name, role string) string {
	tok, _ := e.tokens.Issue(e.occ, e.people[name].ID, role, time.Now())
	return tok
}

// msg is a decoded server message.
type msg map[string]any

func (m msg) str(k string) string { s, _ := m[k].(string); return s }

// client is a test participant: a websocket and real Pion peer connections.
type client struct {
	t      *testing.T
	name   string
	ws     *websocket.Conn
	wmu    sync.Mutex
	api    *webrtc.API
	down   *webrtc.PeerConnection
	events chan msg
	tracks chan remote
	closed chan struct{}

	mu        sync.Mutex
	up        *webrtc.PeerConnection
	trackInfo map[string]map[string]any
	id        string
	resume    string          // the resume token of the last welcome
	chatSeen  map[float64]int // chat message id → times received (welcomes and broadcasts)
	byes      []string        // reasons of every bye received, on any connection
	lastChat  float64
	// tracks that arrived while the test waited for another
	pendingTracks []remote
	closing       atomic.Bool // errors after this are the test's own cleanup racing the server
}

// failf reports a problem the client met, unless the test is already tearing it down.
func (c *client) failf(format string, args ...any) {
	if !c.closing.Load() {
		c.t.Errorf(format, args...)
	}
}

type remote struct {
	track  *webrtc.TrackRemote
	source string
	from   string
}

func clientAPI(t *testing.T) *webrtc.API {
	t.Helper()
	return clientAPIWith(t, nil)
}

// clientAPIWith is clientAPI with more of the media engine's set-up (header extensions).
func clientAPIWith(t *testing.T, media func(*webrtc.MediaEngine) error) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	if media != nil {
		if err := media(m); err != nil {
			t.Fatal(err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(0)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	// The NACK test asks again for a packet it did receive (loopback loses nothing); a lost
	// packet would not be a replay, this one is.
	se.DisableSRTPReplayProtection(true)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

// dial opens a websocket and sends hello with the token, without waiting for anything.
func (e *env) dial(name, token string) *client {
	e.t.Helper()
	return e.dialHello(name, map[string]any{"type": "hello", "v": 1, "token": token})
}

// dialResume opens a fresh client (new peer connections) that says hello with a resume
// token.
func (e *env) dialResume(name, token string, since int64) *client {
	e.t.Helper()
	return e.dialHello(name, map[string]any{"type": "hello", "v": 1, "resume": token, "since": since})
}

func (e *env) dialHello(name string, hello map[string]any) *client {
	e.t.Helper()
	h := http.Header{"Origin": {e.srv.URL}}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http"), h)
	if err != nil {
		e.t.Fatal(err)
	}
	api := e.apis[name]
	if api == nil {
		api = clientAPI(e.t)
	}
	c := &client{t: e.t, name: name, ws: ws, api: api, events: make(chan msg, 4096), tracks: make(chan remote, 16),
		closed: make(chan struct{}), trackInfo: map[string]map[string]any{}, chatSeen: map[float64]int{}}
	c.down, err = c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		e.t.Fatal(err)
	}
	c.down.OnICECandidate(func(ci *webrtc.ICECandidate) {
		if ci != nil {
			c.send(map[string]any{"type": "candidate", "pc": "down", "candidate": ci.ToJSON()})
		}
	})
	c.down.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.mu.Lock()
		info := c.trackInfo[tr.ID()]
		c.mu.Unlock()
		src, _ := info["source"].(string)
		from, _ := info["participant_id"].(string)
		c.tracks <- remote{track: tr, source: src, from: from}
	})
	go c.read(ws, c.closed)
	e.t.Cleanup(c.close)
	c.send(hello)
	return c
}

// dropSocket cuts the websocket without a goodbye or a close frame, as a lost network
// does; the peer connections stay.
func (c *client) dropSocket() {
	c.wmu.Lock()
	_ = c.ws.UnderlyingConn().Close()
	c.wmu.Unlock()
	<-c.doneCh()
}

func (c *client) doneCh() chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// reconnect opens a new websocket and says hello with the resume token (and the last chat
// message seen), keeping the peer connections; it returns the welcome.
func (e *env) reconnect(c *client) msg {
	e.t.Helper()
	return e.reconnectWith(c, c.resumeToken())
}

func (c *client) resumeToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resume
}

// reconnectWith is reconnect with a given resume token; the server's first answer (a
// welcome, or the error that refuses the token) is returned.
func (e *env) reconnectWith(c *client, token string) msg {
	e.t.Helper()
	h := http.Header{"Origin": {e.srv.URL}}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http"), h)
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	c.wmu.Lock()
	c.ws = ws
	c.wmu.Unlock()
	c.mu.Lock()
	c.closed = done
	since := c.lastChat
	c.mu.Unlock()
	go c.read(ws, done)
	c.send(map[string]any{"type": "hello", "v": 1, "resume": token, "since": int64(since)})
	for {
		select {
		case m := <-c.events:
			if t := m.str("type"); t == "welcome" || t == "error" {
				return m
			}
		case <-time.After(10 * time.Second):
			e.t.Fatalf("%s: no answer to the resume within 10 s", c.name)
		}
	}
}

// sawBye waits until the client got a bye with that reason on any of its connections.
func (c *client) sawBye(reason string) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c.mu.Lock()
		for _, r := range c.byes {
			if r == reason {
				c.mu.Unlock()
				return true
			}
		}
		c.mu.Unlock()
	}
	return false
}

// chatCounts is how many times each chat message id reached the client.
func (c *client) chatCounts() map[float64]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[float64]int, len(c.chatSeen))
	for k, v := range c.chatSeen {
		out[k] = v
	}
	return out
}

func (c *client) sawChat(m map[string]any) {
	id, _ := m["id"].(float64)
	c.mu.Lock()
	c.chatSeen[id]++
	c.lastChat = max(c.lastChat, id)
	c.mu.Unlock()
}

// join dials and waits for the welcome.
func (e *env) join(name, role string) *client {
	e.t.Helper()
	c := e.dial(name, e.token(name, role))
	w := c.expect("welcome")
	you, _ := w["you"].(map[string]any)
	c.id, _ = you["id"].(string)
	if c.id == "" {
		e.t.Fatalf("%s: welcome without an id: %v", name, w)
	}
	return c
}

func (c *client) send(v any) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.WriteJSON(v)
}

func (c *client) read(ws *websocket.Conn, closed chan struct{}) {
	defer close(closed)
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var m msg
		if err := json.Unmarshal(data, &m); err != nil {
			c.failf("%s: server sent bad JSON: %s", c.name, data)
			return
		}
		switch {
		case m.str("type") == "offer" && m.str("pc") == "down":
			if tr, ok := m["tracks"].(map[string]any); ok {
				c.mu.Lock()
				for id, v := range tr {
					c.trackInfo[id], _ = v.(map[string]any)
				}
				c.mu.Unlock()
			}
			if err := c.down.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.str("sdp")}); err != nil {
				c.failf("%s: down offer: %v", c.name, err)
				continue
			}
			ans, err := c.down.CreateAnswer(nil)
			if err == nil {
				err = c.down.SetLocalDescription(ans)
			}
			if err != nil {
				c.failf("%s: down answer: %v", c.name, err)
				continue
			}
			c.send(map[string]any{"type": "answer", "pc": "down", "sdp": ans.SDP})
		case m.str("type") == "answer" && m.str("pc") == "up":
			c.mu.Lock()
			up := c.up
			c.mu.Unlock()
			if err := up.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.str("sdp")}); err != nil {
				c.failf("%s: up answer: %v", c.name, err)
			}
		case m.str("type") == "candidate":
			raw, _ := json.Marshal(m["candidate"])
			var ci webrtc.ICECandidateInit
			_ = json.Unmarshal(raw, &ci)
			pc := c.down
			if m.str("pc") == "up" {
				c.mu.Lock()
				pc = c.up
				c.mu.Unlock()
			}
			if err := pc.AddICECandidate(ci); err != nil {
				c.failf("%s: candidate: %v", c.name, err)
			}
		default:
			switch m.str("type") {
			case "welcome":
				c.mu.Lock()
				c.resume = m.str("resume_token")
				c.mu.Unlock()
				list, _ := m["chat"].([]any)
				for _, x := range list {
					cm, _ := x.(map[string]any)
					c.sawChat(cm)
				}
			case "chat":
				cm, _ := m["message"].(map[string]any)
				c.sawChat(cm)
			case "bye":
				c.mu.Lock()
				c.byes = append(c.byes, m.str("reason"))
				c.mu.Unlock()
			}
			c.events <- m
		}
	}
}

// expect waits for the next message of a type, skipping others.
func (c *client) expect(typ string) msg {
	c.t.Helper()
	return c.expectWhere(typ, func(msg) bool { return true })
}

func (c *client) expectWhere(typ string, ok func(msg) bool) msg {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-c.events:
			if m.str("type") == typ && ok(m) {
				return m
			}
		case <-c.doneCh():
			// Drain what arrived before the close.
			for {
				select {
				case m := <-c.events:
					if m.str("type") == typ && ok(m) {
						return m
					}
				default:
					c.t.Fatalf("%s: connection closed while waiting for %s", c.name, typ)
				}
			}
		case <-deadline:
			c.t.Fatalf("%s: no %s message within 10 s", c.name, typ)
		}
	}
}

// close leaves the room politely (as a page does when its person leaves) and closes
// everything.
func (c *client) close() {
	c.closing.Store(true)
	c.wmu.Lock()
	_ = c.ws.WriteJSON(map[string]any{"type": "leave"})
	_ = c.ws.Close()
	c.wmu.Unlock()
	<-c.doneCh()
	c.mu.Lock()
	up := c.up
	c.mu.Unlock()
	if up != nil {
		_ = up.Close()
	}
	_ = c.down.Close()
}

// publisher sends synthetic media: VP8 video (a keyframe at the start and whenever the SFU
// asks for one) and Opus audio, each packet carrying its number and a pattern derived from
// it, so receivers can check every payload byte.
type publisher struct {
	video, audio *webrtc.TrackLocalStaticRTP
	plis         chan struct{}
	stop         chan struct{}
	done         sync.WaitGroup
	pc           *webrtc.PeerConnection
}

func (c *client) publish(video, audio bool) *publisher {
	c.t.Helper()
	up, err := c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.up = up
	c.mu.Unlock()
	up.OnICECandidate(func(ci *webrtc.ICECandidate) {
		if ci != nil {
			c.send(map[string]any{"type": "candidate", "pc": "up", "candidate": ci.ToJSON()})
		}
	})
	p := &publisher{plis: make(chan struct{}, 64), stop: make(chan struct{}), pc: up}
	sources := map[string]string{}
	if video {
		p.video, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, c.name+"-cam", c.name)
		s, err := up.AddTransceiverFromTrack(p.video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			c.t.Fatal(err)
		}
		sources[p.video.ID()] = "camera"
		p.done.Add(1)
		go func() {
			defer p.done.Done()
			for {
				pkts, _, err := s.Sender().ReadRTCP()
				if err != nil {
					return
				}
				for _, pk := range pkts {
					if _, ok := pk.(*rtcp.PictureLossIndication); ok {
						select {
						case p.plis <- struct{}{}:
						default:
						}
					}
				}
			}
		}()
	}
	if audio {
		p.audio, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, c.name+"-mic", c.name)
		if _, err := up.AddTransceiverFromTrack(p.audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			c.t.Fatal(err)
		}
		sources[p.audio.ID()] = "microphone"
	}
	offer, err := up.CreateOffer(nil)
	if err == nil {
		err = up.SetLocalDescription(offer)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(map[string]any{"type": "offer", "pc": "up", "sdp": offer.SDP, "tracks": sources})
	p.done.Add(1)
	go p.run()
	c.t.Cleanup(p.halt)
	return p
}

func (p *publisher) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	_ = p.pc.Close() // ends the RTCP reader
	p.done.Wait()
}

// payload builds packet n's payload: a VP8 descriptor (or nothing for audio), then n and a
// pattern from n.
func payload(n uint32, video, key bool) []byte {
	b := make([]byte, 0, 600)
	if video {
		b = append(b, 0x10) // S=1, partition 0
		if key {
			b = append(b, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01) // keyframe, 640x360
		} else {
			b = append(b, 0x01, 0x00, 0x00)
		}
	}
	b = binary.BigEndian.AppendUint32(b, n)
	for i := range 500 {
		b = append(b, byte(int(n)+i))
	}
	return b
}

// parsePayload checks a payload's pattern and returns its number.
func parsePayload(b []byte, video bool) (uint32, bool, error) {
	key := false
	if video {
		if len(b) < 2 {
			return 0, false, fmt.Errorf("short video payload")
		}
		key = b[1]&1 == 0
		if key {
			b = b[11:]
		} else {
			b = b[4:]
		}
	}
	if len(b) != 504 {
		return 0, key, fmt.Errorf("payload of %d bytes, want 504", len(b))
	}
	n := binary.BigEndian.Uint32(b)
	for i := range 500 {
		if b[4+i] != byte(int(n)+i) {
			return n, key, fmt.Errorf("payload %d corrupted at byte %d", n, i)
		}
	}
	return n, key, nil
}

func (p *publisher) run() {
	defer p.done.Done()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var vn, an uint32
	var vseq, aseq uint16 = 1000, 2000
	for i := 0; ; i++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		if p.video != nil {
			key := vn == 0
			select {
			case <-p.plis:
				key = true
			default:
			}
			vseq++
			_ = p.video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: vseq, Timestamp: vn * 3000}, Payload: payload(vn, true, key)})
			vn++
		}
		if p.audio != nil && i%2 == 0 {
			aseq++
			_ = p.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: an * 960}, Payload: payload(an, false, false)})
			an++
		}
	}
}

// nextTrack waits for a track of a source from a participant.
func (c *client) nextTrack(from, source string) remote {
	c.t.Helper()
	c.mu.Lock()
	for i, r := range c.pendingTracks {
		if r.from == from && r.source == source {
			c.pendingTracks = append(c.pendingTracks[:i], c.pendingTracks[i+1:]...)
			c.mu.Unlock()
			return r
		}
	}
	c.mu.Unlock()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case r := <-c.tracks:
			if r.from == from && r.source == source {
				return r
			}
			c.mu.Lock()
			c.pendingTracks = append(c.pendingTracks, r)
			c.mu.Unlock()
		case <-deadline:
			c.t.Fatalf("%s: no %s track from %s within 10 s", c.name, source, from)
		}
	}
}

// received is what a viewer got on one track.
type received struct {
	numbers []uint32
	seqs    []uint16
	keys    []bool
	err     error
}

// readPackets reads n packets (or until the timeout) and checks every payload.
func readPackets(ctx context.Context, r remote, n int, video bool) received {
	var out received
	for len(out.numbers) < n {
		if dl, ok := ctx.Deadline(); ok {
			_ = r.track.SetReadDeadline(dl)
		}
		pkt, _, err := r.track.ReadRTP()
		if err != nil {
			out.err = err
			return out
		}
		num, key, err := parsePayload(pkt.Payload, video)
		if err != nil {
			out.err = err
			return out
		}
		out.numbers = append(out.numbers, num)
		out.seqs = append(out.seqs, pkt.SequenceNumber)
		out.keys = append(out.keys, key)
	}
	return out
}

// inOrder checks numbers and sequence numbers both go up by one.
func (r received) inOrder() error {
	for i := 1; i < len(r.numbers); i++ {
		if r.numbers[i] != r.numbers[i-1]+1 {
			return fmt.Errorf("packet %d follows %d", r.numbers[i], r.numbers[i-1])
		}
		if r.seqs[i] != r.seqs[i-1]+1 {
			return fmt.Errorf("sequence number %d follows %d", r.seqs[i], r.seqs[i-1])
		}
	}
	return nil
}
