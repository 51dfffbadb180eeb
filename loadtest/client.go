package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/signaling"
)

// NewAPI is the WebRTC stack of simulated participants: Pion's default codecs and
// interceptors (NACK, reports), ICE on loopback only.
func NewAPI() (*webrtc.API, error) { return newAPI(nil) }

// audioLevelURI is the audio level header extension (RFC 6464).
const audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// newAPI is NewAPI, with every connection's ICE on mux when it is not nil (one UDP socket
// for all; a shaped one for constrained viewers). Pion's default interceptors include the
// simulcast header extensions (mid, rid) and transport-wide congestion control feedback;
// the audio level extension (RFC 6464) is added for publishers that write it.
func newAPI(mux ice.UDPMux) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: audioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(0)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	if mux != nil {
		se.SetICEUDPMux(mux)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// Track is a track a client receives, with whose it is.
type Track struct {
	Remote        *webrtc.TrackRemote
	ParticipantID string
	Source        string
}

// Peer is a participant as a client sees them (itself in its welcome, the others in its
// participant list).
type Peer struct {
	ID           string `json:"id"`
	Role         string `json:"role"`
	Hand         bool   `json:"hand"`
	Reconnecting bool   `json:"reconnecting"`
}

// ServerError is an error the server answered a hello with (the connection is closed).
type ServerError struct{ Code, Message string }

func (e *ServerError) Error() string { return fmt.Sprintf("refused (%s): %s", e.Code, e.Message) }

// Config configures a client.
type Config struct {
	API       *webrtc.API
	Origin    string    // the Origin header (the server's base URL)
	Admission Admission // the first join token
	// OnTrack is called (on a goroutine of its own) for every track the client receives and
	// must read it. Nil: the client reads received tracks itself, counting packets and
	// noting the first packet after every (re)connection (MediaAfterWelcome).
	OnTrack func(Track)
	// AutoResume makes the client come back by itself when its websocket drops (a crash or
	// a restart of the server, or bye shutdown): a hello with its resume token and the last
	// chat id it has (docs/signaling.md §5), every second or so with jitter, until Close.
	AutoResume bool
	// Readmit gets a new join token, for when a resume is refused (resume_refused); nil:
	// a refused resume is final.
	Readmit func(ctx context.Context) (Admission, error)
	// View, when not nil, is the size at which the client shows every video track (camera
	// or screen) it receives: after each offer it sends a view message with them.
	View *signaling.Size
	// OnDownOffer, when not nil, gets every offer for the down connection before it is
	// applied (a light viewer reads payload types and header extension ids from it).
	OnDownOffer func(sdp string) error
	// DownHeaderEncryption is the down connection's policy for RTP header extension
	// encryption (RFC 9335, cryptex; zero: Pion's default, negotiate). A light viewer
	// disables it: it reads transport-wide sequence numbers from the clear header extensions.
	DownHeaderEncryption webrtc.RTPHeaderEncryptionPolicy
	Log                  *slog.Logger
}

// Client is one participant: a websocket speaking Puente's protocol and the up (publishing)
// and down (receiving) peer connections. With Config.AutoResume it survives the loss of its
// websocket, keeping its participant id, role, hand and place in the chat.
type Client struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	Opened time.Time // when the first websocket opened
	ID     string    // participant id from the first welcome

	wmu sync.Mutex
	ws  *websocket.Conn // the current websocket; nil while reconnecting

	packets  atomic.Int64 // media packets read (when the client reads its tracks)
	welcomes atomic.Int64 // welcomes so far (track readers compare it with the last they noted)

	videoPaused atomic.Bool  // the last video_paused message said paused
	videoPauses atomic.Int64 // video_paused messages that said paused

	mu           sync.Mutex
	down, up     *webrtc.PeerConnection
	trackInfo    map[string]struct{ pid, source string }
	errs         []string
	resumeToken  string
	you          Peer
	others       map[string]Peer
	chat         map[int64]int // chat message id → times received
	lastChat     int64
	pubTracks    map[webrtc.TrackLocal]string // what Publish sent, to send again after a restart
	pubLayers    map[webrtc.TrackLocal][]webrtc.TrackLocal
	onSenders    func([]*webrtc.RTPSender)
	onLayers     func(source string, active map[string]bool)
	resumes      int // welcomes that resumed
	rejoins      int // fresh joins after a refused resume
	droppedAt    time.Time
	welcomeAt    time.Time            // the last welcome
	mediaAt      time.Time            // the first media packet since the last welcome
	mediaFrom    map[string]time.Time // participant id → their first media packet since the last welcome
	firstMediaAt time.Time
	bye          string
	gaveUp       bool // it stopped trying to come back
	mediaKept    bool // the last welcome said media_kept
	closed       bool
	loopDone     chan struct{}
}

// Admission is the admission endpoint's answer.
type Admission struct {
	Token        string `json:"token"`
	Role         string `json:"role"`
	WebSocketURL string `json:"websocket_url"`
}

// Admit asks the server for a join token with a personal API token.
func Admit(ctx context.Context, hc *http.Client, base, apiToken string, occID int64) (Admission, error) {
	var a Admission
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/api/v1/occurrences/%d/admission", base, occID), nil)
	if err != nil {
		return a, err
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	res, err := hc.Do(req)
	if err != nil {
		return a, fmt.Errorf("admission: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return a, fmt.Errorf("admission: %s: %s", res.Status, bytes.TrimSpace(body))
	}
	return a, json.Unmarshal(body, &a)
}

// Join opens the websocket with an admission, says hello, and returns after the welcome.
// onTrack is called (on a goroutine of its own) for every track the client receives.
func Join(ctx context.Context, api *webrtc.API, origin string, a Admission, onTrack func(Track)) (*Client, error) {
	return Dial(ctx, Config{API: api, Origin: origin, Admission: a, OnTrack: onTrack})
}

// Dial joins with cfg.Admission and returns after the welcome.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	c := &Client{cfg: cfg, log: cfg.Log, trackInfo: map[string]struct{ pid, source string }{},
		others: map[string]Peer{}, chat: map[int64]int{}, loopDone: make(chan struct{})}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.Opened = time.Now()
	ws, w, err := c.hello(ctx, cfg.Admission.WebSocketURL, map[string]any{"type": "hello", "v": 1, "token": cfg.Admission.Token})
	if err != nil {
		c.cancel()
		return nil, err
	}
	if c.down, err = c.newDown(); err != nil {
		_ = ws.Close()
		c.cancel()
		return nil, err
	}
	c.ID = w.You.ID
	done := c.attach(ws, w, true)
	go c.supervise(done)
	return c, nil
}

// welcome is what the client reads of the server's welcome.
type welcome struct {
	Type         string `json:"type"`
	Code         string `json:"code"`
	Message      string `json:"message"`
	You          Peer   `json:"you"`
	Participants []Peer `json:"participants"`
	Chat         []struct {
		ID int64 `json:"id"`
	} `json:"chat"`
	ResumeToken string `json:"resume_token"`
	Resumed     bool   `json:"resumed"`
	MediaKept   bool   `json:"media_kept"`
}

// hello opens a websocket, says hello and reads the answer: a welcome, or a *ServerError.
func (c *Client) hello(ctx context.Context, url string, hello map[string]any) (*websocket.Conn, welcome, error) {
	var w welcome
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, _, err := d.DialContext(ctx, url, http.Header{"Origin": {c.cfg.Origin}})
	if err != nil {
		return nil, w, fmt.Errorf("websocket: %w", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = ws.SetWriteDeadline(deadline)
	if err := ws.WriteJSON(hello); err != nil {
		_ = ws.Close()
		return nil, w, fmt.Errorf("hello: %w", err)
	}
	_ = ws.SetReadDeadline(deadline)
	_, data, err := ws.ReadMessage()
	if err != nil {
		_ = ws.Close()
		return nil, w, fmt.Errorf("the server closed the websocket before the welcome: %w", err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	_ = ws.SetWriteDeadline(time.Time{})
	if err := json.Unmarshal(data, &w); err != nil {
		_ = ws.Close()
		return nil, w, fmt.Errorf("welcome: %w", err)
	}
	if w.Type != "welcome" {
		_ = ws.Close()
		if w.Type == "error" {
			return nil, w, &ServerError{Code: w.Code, Message: w.Message}
		}
		return nil, w, fmt.Errorf("expected welcome, got %q", w.Type)
	}
	return ws, w, nil
}

// attach makes ws the client's websocket after its welcome w and starts reading it; the
// channel closes when the websocket ends.
func (c *Client) attach(ws *websocket.Conn, w welcome, first bool) <-chan struct{} {
	var oldDown, oldUp *webrtc.PeerConnection
	c.mu.Lock()
	c.resumeToken = w.ResumeToken
	c.you = w.You
	c.others = map[string]Peer{}
	for _, p := range w.Participants {
		if p.ID != w.You.ID {
			c.others[p.ID] = p
		}
	}
	for _, m := range w.Chat {
		c.noteChatLocked(m.ID)
	}
	c.welcomeAt = time.Now()
	c.mediaKept = w.MediaKept
	c.mediaAt = time.Time{}
	c.mediaFrom = map[string]time.Time{}
	c.welcomes.Add(1)
	c.bye = ""
	restartUp := false
	if !first {
		if w.Resumed {
			c.resumes++
		} else {
			c.rejoins++
		}
		if !w.Resumed || !w.MediaKept {
			// The server has no peer connections for us: start afresh.
			oldDown, oldUp = c.down, c.up
			c.down, c.up = nil, nil
			c.trackInfo = map[string]struct{ pid, source string }{}
		} else if c.up != nil && c.up.ConnectionState() != webrtc.PeerConnectionStateConnected {
			restartUp = true
		}
	}
	publisher := w.You.Role == "host" || w.You.Role == "speaker"
	republish := oldUp != nil && publisher && len(c.pubTracks) > 0
	c.mu.Unlock()

	if oldDown != nil {
		_ = oldDown.Close()
	}
	if oldUp != nil {
		_ = oldUp.Close()
	}
	c.wmu.Lock()
	c.ws = ws
	c.wmu.Unlock()
	if oldDown != nil || (!first && !w.Resumed) {
		down, err := c.newDown()
		if err != nil {
			c.fail("new down connection: %v", err)
		} else {
			c.mu.Lock()
			if c.down != nil { // a fresh join with media kept cannot happen, but do not leak
				_ = c.down.Close()
			}
			c.down = down
			c.mu.Unlock()
		}
	}
	done := make(chan struct{})
	go c.read(ws, done)
	switch {
	case republish:
		if err := c.republish(); err != nil {
			c.fail("publish again: %v", err)
		}
	case restartUp:
		if err := c.restartUp(); err != nil {
			c.fail("ICE restart of up: %v", err)
		}
	}
	return done
}

func (c *Client) newDown() (*webrtc.PeerConnection, error) {
	pc, err := c.cfg.API.NewPeerConnection(webrtc.Configuration{RTPHeaderEncryptionPolicy: c.cfg.DownHeaderEncryption})
	if err != nil {
		return nil, err
	}
	pc.OnICECandidate(func(ci *webrtc.ICECandidate) {
		if ci != nil {
			_ = c.send(map[string]any{"type": "candidate", "pc": "down", "candidate": ci.ToJSON()})
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.mu.Lock()
		info := c.trackInfo[tr.ID()]
		c.mu.Unlock()
		if c.cfg.OnTrack != nil {
			c.cfg.OnTrack(Track{Remote: tr, ParticipantID: info.pid, Source: info.source})
			return
		}
		c.readTrack(pc, tr)
	})
	return pc, nil
}

// readTrack reads a received track until it ends, counting packets and noting the first
// one after each welcome, overall and per publishing participant.
func (c *Client) readTrack(pc *webrtc.PeerConnection, tr *webrtc.TrackRemote) {
	buf := make([]byte, 1600)
	noted := int64(-1) // the welcome after which this reader last noted a packet
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue
		}
		c.packets.Add(1)
		if paddingOnly(buf[:n]) {
			continue // a probe's padding: not media (it can come while the video is paused)
		}
		if w := c.welcomes.Load(); w != noted {
			noted = w
			now := time.Now()
			c.mu.Lock()
			if c.down == pc {
				if c.mediaAt.IsZero() {
					c.mediaAt = now
				}
				if c.firstMediaAt.IsZero() {
					c.firstMediaAt = now
				}
				pid := c.trackInfo[tr.ID()].pid
				if _, ok := c.mediaFrom[pid]; !ok {
					c.mediaFrom[pid] = now
				}
			}
			c.mu.Unlock()
		}
	}
}

// supervise waits for the websocket to end and, with AutoResume, brings the client back.
func (c *Client) supervise(done <-chan struct{}) {
	defer close(c.loopDone)
	defer func() {
		c.mu.Lock()
		c.gaveUp = c.ctx.Err() == nil
		c.mu.Unlock()
	}()
	for {
		select {
		case <-done:
		case <-c.ctx.Done():
			return
		}
		c.wmu.Lock()
		c.ws = nil
		c.wmu.Unlock()
		c.mu.Lock()
		c.droppedAt = time.Now()
		bye := c.bye
		c.mu.Unlock()
		if !c.cfg.AutoResume || c.ctx.Err() != nil {
			return
		}
		switch bye {
		case "removed", "ended", "replaced", "revoked":
			return // these do not come back by themselves
		}
		for attempt := 0; ; attempt++ {
			if attempt > 0 {
				// Every second or so, with jitter, as the room page does.
				wait := 700*time.Millisecond + rand.N(600*time.Millisecond)
				select {
				case <-c.ctx.Done():
					return
				case <-time.After(wait):
				}
			}
			var err error
			done, err = c.Resume(c.ctx)
			if err == nil {
				break
			}
			var se *ServerError
			if errors.As(err, &se) {
				// Refused for good (removed, ended, no place any more).
				c.fail("resume: %v", err)
				return
			}
			if c.ctx.Err() != nil {
				return
			}
			c.log.Debug("resume failed, trying again", "id", c.ID, "err", err)
		}
	}
}

// Resume opens a new websocket and says hello with the resume token and the last chat id
// the client has; when the resume is refused and Config.Readmit is set, it joins again with
// a new join token. It returns a channel that closes when the new websocket ends. With
// AutoResume the client calls it by itself.
func (c *Client) Resume(ctx context.Context) (<-chan struct{}, error) {
	c.mu.Lock()
	tok, since := c.resumeToken, c.lastChat
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	url := c.cfg.Admission.WebSocketURL
	ws, w, err := c.hello(ctx, url, map[string]any{"type": "hello", "v": 1, "resume": tok, "since": since})
	var se *ServerError
	if errors.As(err, &se) && se.Code == "resume_refused" && c.cfg.Readmit != nil {
		c.log.Info("resume refused: joining again", "id", c.ID, "message", se.Message)
		a, aerr := c.cfg.Readmit(ctx)
		if aerr != nil {
			return nil, fmt.Errorf("resume refused, and no new join token: %w", aerr)
		}
		ws, w, err = c.hello(ctx, a.WebSocketURL, map[string]any{"type": "hello", "v": 1, "token": a.Token})
	}
	if err != nil {
		return nil, err
	}
	if c.ctx.Err() != nil {
		_ = ws.Close()
		return nil, c.ctx.Err()
	}
	return c.attach(ws, w, false), nil
}

func (c *Client) noteChatLocked(id int64) {
	c.chat[id]++
	c.lastChat = max(c.lastChat, id)
}

func (c *Client) send(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ws == nil {
		return errors.New("not connected")
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteJSON(v)
}

func (c *Client) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) < 10 {
		c.errs = append(c.errs, fmt.Sprintf(format, args...))
	}
}

// Errors are problems the client met after joining (offers it could not apply, errors the
// server sent).
func (c *Client) Errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...)
}

func (c *Client) read(ws *websocket.Conn, done chan<- struct{}) {
	defer close(done)
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var m struct {
			Type          string                     `json:"type"`
			PC            string                     `json:"pc"`
			SDP           string                     `json:"sdp"`
			Tracks        map[string]json.RawMessage `json:"tracks"`
			Candidate     *webrtc.ICECandidateInit   `json:"candidate"`
			Code          string                     `json:"code"`
			Message       json.RawMessage            `json:"message"`
			Participant   *Peer                      `json:"participant"`
			ParticipantID string                     `json:"participant_id"`
			Role          string                     `json:"role"`
			Reason        string                     `json:"reason"`
			Source        string                     `json:"source"`
			Active        map[string]bool            `json:"active"`
			Paused        bool                       `json:"paused"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			c.fail("bad JSON from the server")
			continue
		}
		switch m.Type {
		case "offer":
			c.mu.Lock()
			for id, raw := range m.Tracks {
				var ti struct {
					P string `json:"participant_id"`
					S string `json:"source"`
				}
				_ = json.Unmarshal(raw, &ti)
				c.trackInfo[id] = struct{ pid, source string }{ti.P, ti.S}
			}
			down := c.down
			c.mu.Unlock()
			if down == nil {
				continue
			}
			if c.cfg.OnDownOffer != nil {
				if err := c.cfg.OnDownOffer(m.SDP); err != nil {
					c.fail("down offer: %v", err)
				}
			}
			if err := down.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
				c.fail("down offer: %v (%d bytes of SDP, %d m-lines)", err, len(m.SDP), strings.Count(m.SDP, "\nm="))
				continue
			}
			ans, err := down.CreateAnswer(nil)
			if err == nil {
				err = down.SetLocalDescription(ans)
			}
			if err != nil {
				c.fail("down answer: %v", err)
				continue
			}
			_ = c.send(map[string]any{"type": "answer", "pc": "down", "sdp": ans.SDP})
			if c.cfg.View != nil {
				view := map[string]signaling.Size{}
				c.mu.Lock()
				for id, ti := range c.trackInfo {
					if ti.source == "camera" || ti.source == "screen" {
						view[id] = *c.cfg.View
					}
				}
				c.mu.Unlock()
				if len(view) > 0 {
					_ = c.View(view)
				}
			}
		case "answer":
			c.mu.Lock()
			up := c.up
			c.mu.Unlock()
			if up == nil {
				continue
			}
			if err := up.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
				c.fail("up answer: %v", err)
			}
		case "candidate":
			if m.Candidate == nil {
				continue
			}
			c.mu.Lock()
			pc := c.down
			if m.PC == "up" {
				pc = c.up
			}
			c.mu.Unlock()
			if pc != nil {
				_ = pc.AddICECandidate(*m.Candidate)
			}
		case "chat":
			var cm struct {
				ID int64 `json:"id"`
			}
			if json.Unmarshal(m.Message, &cm) == nil && cm.ID > 0 {
				c.mu.Lock()
				c.noteChatLocked(cm.ID)
				c.mu.Unlock()
			}
		case "participant":
			if m.Participant == nil {
				continue
			}
			c.mu.Lock()
			if m.Participant.ID == c.you.ID {
				c.you = *m.Participant
			} else {
				c.others[m.Participant.ID] = *m.Participant
			}
			c.mu.Unlock()
		case "left":
			c.mu.Lock()
			delete(c.others, m.ParticipantID)
			c.mu.Unlock()
		case "role":
			c.mu.Lock()
			c.you.Role = m.Role
			c.mu.Unlock()
		case "bye":
			c.mu.Lock()
			c.bye = m.Reason
			c.mu.Unlock()
		case signaling.TypeLayers:
			c.mu.Lock()
			f := c.onLayers
			c.mu.Unlock()
			if f != nil {
				f(m.Source, m.Active)
			}
		case signaling.TypeVideoPaused:
			c.videoPaused.Store(m.Paused)
			if m.Paused {
				c.videoPauses.Add(1)
			}
		case "error":
			var msg string
			_ = json.Unmarshal(m.Message, &msg)
			c.fail("server error %s: %s", m.Code, msg)
		}
	}
}

// Publish sends tracks (track → source: camera, screen, microphone) on the up connection.
// It returns the senders, whose RTCP carries the server's keyframe requests. After a
// server restart (a resume without media kept) the client publishes the same tracks again
// on a new connection by itself, and gives the new senders to OnSenders.
func (c *Client) Publish(tracks map[webrtc.TrackLocal]string) ([]*webrtc.RTPSender, error) {
	return c.PublishSimulcast(tracks, nil)
}

// PublishSimulcast is Publish with simulcast: layers maps a track of tracks (made with
// webrtc.WithRTPStreamID, its first layer) to its other layers (same id and stream id, each
// with its own rid), which are added as encodings of the same sender.
func (c *Client) PublishSimulcast(tracks map[webrtc.TrackLocal]string, layers map[webrtc.TrackLocal][]webrtc.TrackLocal) ([]*webrtc.RTPSender, error) {
	c.mu.Lock()
	c.pubTracks, c.pubLayers = tracks, layers
	c.mu.Unlock()
	return c.publish(tracks)
}

// OnSenders sets what gets the senders of a publication the client makes by itself (after
// a resume without media kept): read their RTCP.
func (c *Client) OnSenders(f func([]*webrtc.RTPSender)) {
	c.mu.Lock()
	c.onSenders = f
	c.mu.Unlock()
}

func (c *Client) republish() error {
	c.mu.Lock()
	tracks, hook := c.pubTracks, c.onSenders
	c.mu.Unlock()
	senders, err := c.publish(tracks)
	if err != nil {
		return err
	}
	if hook != nil {
		hook(senders)
	}
	return nil
}

func (c *Client) publish(tracks map[webrtc.TrackLocal]string) ([]*webrtc.RTPSender, error) {
	up, err := c.cfg.API.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	up.OnICECandidate(func(ci *webrtc.ICECandidate) {
		if ci != nil {
			_ = c.send(map[string]any{"type": "candidate", "pc": "up", "candidate": ci.ToJSON()})
		}
	})
	sources := map[string]string{}
	var senders []*webrtc.RTPSender
	c.mu.Lock()
	layers := c.pubLayers
	c.mu.Unlock()
	for t, src := range tracks {
		tr, err := up.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			_ = up.Close()
			return nil, err
		}
		for _, l := range layers[t] {
			if err := tr.Sender().AddEncoding(l); err != nil {
				_ = up.Close()
				return nil, fmt.Errorf("simulcast layer %q: %w", l.RID(), err)
			}
		}
		sources[t.ID()] = src
		senders = append(senders, tr.Sender())
	}
	offer, err := up.CreateOffer(nil)
	if err == nil {
		err = up.SetLocalDescription(offer)
	}
	if err != nil {
		_ = up.Close()
		return nil, err
	}
	c.mu.Lock()
	old := c.up
	c.up = up
	c.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	if err := c.send(map[string]any{"type": "offer", "pc": "up", "sdp": offer.SDP, "tracks": sources}); err != nil {
		return senders, fmt.Errorf("offer: %w", err)
	}
	return senders, nil
}

// restartUp offers again on the up connection with ICE restart.
func (c *Client) restartUp() error {
	c.mu.Lock()
	up, tracks := c.up, c.pubTracks
	c.mu.Unlock()
	if up == nil {
		return nil
	}
	offer, err := up.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err == nil {
		err = up.SetLocalDescription(offer)
	}
	if err != nil {
		return err
	}
	sources := map[string]string{}
	for t, src := range tracks {
		sources[t.ID()] = src
	}
	return c.send(map[string]any{"type": "offer", "pc": "up", "sdp": offer.SDP, "tracks": sources})
}

// OnLayers sets what gets the server's layers messages (which simulcast layers of a
// source someone needs). It is called on the websocket's reader.
func (c *Client) OnLayers(f func(source string, active map[string]bool)) {
	c.mu.Lock()
	c.onLayers = f
	c.mu.Unlock()
}

// VideoPaused tells whether the last video_paused message said the client's video is
// paused to keep its audio, and how many said paused so far.
func (c *Client) VideoPaused() (paused bool, pauses int64) {
	return c.videoPaused.Load(), c.videoPauses.Load()
}

// View tells the server at which size the client shows received tracks (track id →
// display size; 0×0: not shown).
func (c *Client) View(tracks map[string]signaling.Size) error {
	return c.send(map[string]any{"type": signaling.TypeView, "tracks": tracks})
}

// UpMid is the mid of a sender's transceiver on the publishing connection ("" when it has
// none yet).
func (c *Client) UpMid(s *webrtc.RTPSender) string {
	c.mu.Lock()
	up := c.up
	c.mu.Unlock()
	if up == nil {
		return ""
	}
	for _, t := range up.GetTransceivers() {
		if t.Sender() == s {
			return t.Mid()
		}
	}
	return ""
}

// WriteDownRTCP sends RTCP on the receiving connection (a light viewer's transport-cc
// feedback).
func (c *Client) WriteDownRTCP(pkts []rtcp.Packet) error {
	c.mu.Lock()
	down := c.down
	c.mu.Unlock()
	if down == nil {
		return errors.New("no down connection")
	}
	if err := down.WriteRTCP(pkts); err != nil {
		return fmt.Errorf("down RTCP: %w", err)
	}
	return nil
}

// DownState is the receiving connection's state (closed when there is none).
func (c *Client) DownState() webrtc.PeerConnectionState {
	c.mu.Lock()
	down := c.down
	c.mu.Unlock()
	if down == nil {
		return webrtc.PeerConnectionStateClosed
	}
	return down.ConnectionState()
}

// UpConnected tells whether the publishing connection is up.
func (c *Client) UpConnected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up != nil && c.up.ConnectionState() == webrtc.PeerConnectionStateConnected
}

// Chat says text in the chat.
func (c *Client) Chat(text string) error {
	return c.send(map[string]any{"type": "chat", "text": text})
}

// Hand raises or lowers the client's hand.
func (c *Client) Hand(raised bool) error {
	return c.send(map[string]any{"type": "hand", "raised": raised})
}

// Stage invites a participant onto the stage (on) or moves them back (a host's message).
func (c *Client) Stage(participantID string, on bool) error {
	return c.send(map[string]any{"type": "stage", "participant_id": participantID, "on": on})
}

// dropWebsocket cuts the websocket without a goodbye, as a network drop would (tests).
func (c *Client) dropWebsocket() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ws != nil {
		_ = c.ws.UnderlyingConn().Close()
	}
}

// Connected tells whether the client has a websocket now.
func (c *Client) Connected() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws != nil
}

// State is what a client knows and has seen so far.
type State struct {
	You         Peer // itself, from its last welcome and the updates since
	Others      map[string]Peer
	Chat        map[int64]int        // chat message id → times received
	Resumes     int                  // welcomes that resumed the participant
	Rejoins     int                  // fresh joins after a refused resume
	DroppedAt   time.Time            // when the websocket last ended
	WelcomeAt   time.Time            // the last welcome
	MediaAt     time.Time            // the first media packet after the last welcome (when the client reads)
	MediaFrom   map[string]time.Time // participant id → their first media packet after the last welcome
	FirstMedia  time.Time            // the first media packet ever
	Packets     int64
	Connected   bool
	GaveUp      bool // its websocket ended and it no longer tries to come back
	MediaKept   bool // the last welcome resumed with the peer connections kept
	ResumeToken bool // it holds a resume token
}

// State returns a copy of what the client knows.
func (c *Client) State() State {
	connected := c.Connected()
	c.mu.Lock()
	defer c.mu.Unlock()
	s := State{You: c.you, Others: make(map[string]Peer, len(c.others)), Chat: make(map[int64]int, len(c.chat)),
		Resumes: c.resumes, Rejoins: c.rejoins, DroppedAt: c.droppedAt, WelcomeAt: c.welcomeAt, MediaAt: c.mediaAt,
		FirstMedia: c.firstMediaAt, Packets: c.packets.Load(), Connected: connected, GaveUp: c.gaveUp, MediaKept: c.mediaKept, ResumeToken: c.resumeToken != ""}
	for k, v := range c.others {
		s.Others[k] = v
	}
	for k, v := range c.chat {
		s.Chat[k] = v
	}
	s.MediaFrom = make(map[string]time.Time, len(c.mediaFrom))
	for k, v := range c.mediaFrom {
		s.MediaFrom[k] = v
	}
	return s
}

// Close leaves: the websocket and both connections close, and the client stops coming
// back.
func (c *Client) Close() {
	c.cancel()
	c.wmu.Lock()
	if c.ws != nil {
		_ = c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		_ = c.ws.Close()
	}
	c.wmu.Unlock()
	<-c.loopDone
	// A resume that completed while closing may have attached a websocket.
	c.wmu.Lock()
	if c.ws != nil {
		_ = c.ws.Close()
		c.ws = nil
	}
	c.wmu.Unlock()
	c.mu.Lock()
	up, down := c.up, c.down
	c.closed = true
	c.mu.Unlock()
	if up != nil {
		_ = up.Close()
	}
	if down != nil {
		_ = down.Close()
	}
}
