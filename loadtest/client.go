package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// NewAPI is the WebRTC stack of simulated participants: Pion's default codecs and
// interceptors (NACK, reports), ICE on loopback only.
func NewAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
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
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// Track is a track a client receives, with whose it is.
type Track struct {
	Remote        *webrtc.TrackRemote
	ParticipantID string
	Source        string
}

// Client is one participant: a websocket speaking Puente's protocol and the up (publishing)
// and down (receiving) peer connections.
type Client struct {
	ws      *websocket.Conn
	wmu     sync.Mutex
	api     *webrtc.API
	down    *webrtc.PeerConnection
	onTrack func(Track)
	done    chan struct{}
	Opened  time.Time // when the websocket opened
	ID      string    // participant id from the welcome

	mu        sync.Mutex
	up        *webrtc.PeerConnection
	trackInfo map[string]struct{ pid, source string }
	errs      []string
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
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c := &Client{api: api, onTrack: onTrack, done: make(chan struct{}), trackInfo: map[string]struct{ pid, source string }{}}
	c.Opened = time.Now()
	ws, _, err := d.DialContext(ctx, a.WebSocketURL, http.Header{"Origin": {origin}})
	if err != nil {
		return nil, fmt.Errorf("websocket: %w", err)
	}
	c.ws = ws
	if c.down, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		_ = ws.Close()
		return nil, err
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
		if c.onTrack != nil {
			c.onTrack(Track{Remote: tr, ParticipantID: info.pid, Source: info.source})
		}
	})
	welcome := make(chan map[string]any, 1)
	go c.read(welcome)
	c.send(map[string]any{"type": "hello", "v": 1, "token": a.Token})
	select {
	case w := <-welcome:
		if w["type"] == "error" {
			c.Close()
			return nil, fmt.Errorf("refused: %v", w["message"])
		}
		you, _ := w["you"].(map[string]any)
		c.ID, _ = you["id"].(string)
		return c, nil
	case <-c.done:
		c.Close()
		return nil, errors.New("the server closed the websocket before the welcome")
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
}

func (c *Client) send(v any) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_ = c.ws.WriteJSON(v)
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

func (c *Client) read(welcome chan<- map[string]any) {
	defer close(c.done)
	first := true
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var m struct {
			Type      string                     `json:"type"`
			PC        string                     `json:"pc"`
			SDP       string                     `json:"sdp"`
			Tracks    map[string]json.RawMessage `json:"tracks"`
			Candidate *webrtc.ICECandidateInit   `json:"candidate"`
			Code      string                     `json:"code"`
			Message   string                     `json:"message"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			c.fail("bad JSON from the server")
			continue
		}
		if first {
			first = false
			var w map[string]any
			_ = json.Unmarshal(data, &w)
			welcome <- w
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
			c.mu.Unlock()
			if err := c.down.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
				c.fail("down offer: %v", err)
				continue
			}
			ans, err := c.down.CreateAnswer(nil)
			if err == nil {
				err = c.down.SetLocalDescription(ans)
			}
			if err != nil {
				c.fail("down answer: %v", err)
				continue
			}
			c.send(map[string]any{"type": "answer", "pc": "down", "sdp": ans.SDP})
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
			pc := c.down
			if m.PC == "up" {
				c.mu.Lock()
				pc = c.up
				c.mu.Unlock()
			}
			if pc != nil {
				_ = pc.AddICECandidate(*m.Candidate)
			}
		case "error":
			c.fail("server error %s: %s", m.Code, m.Message)
		}
	}
}

// Publish sends tracks (track → source: camera, screen, microphone) on the up connection.
// It returns the senders, whose RTCP carries the server's keyframe requests.
func (c *Client) Publish(tracks map[webrtc.TrackLocal]string) ([]*webrtc.RTPSender, error) {
	up, err := c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	up.OnICECandidate(func(ci *webrtc.ICECandidate) {
		if ci != nil {
			c.send(map[string]any{"type": "candidate", "pc": "up", "candidate": ci.ToJSON()})
		}
	})
	sources := map[string]string{}
	var senders []*webrtc.RTPSender
	for t, src := range tracks {
		tr, err := up.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			_ = up.Close()
			return nil, err
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
	c.up = up
	c.mu.Unlock()
	c.send(map[string]any{"type": "offer", "pc": "up", "sdp": offer.SDP, "tracks": sources})
	return senders, nil
}

// Connected tells whether the publishing connection is up.
func (c *Client) UpConnected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up != nil && c.up.ConnectionState() == webrtc.PeerConnectionStateConnected
}

// Close leaves: the websocket and both connections close.
func (c *Client) Close() {
	c.wmu.Lock()
	_ = c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	_ = c.ws.Close()
	c.wmu.Unlock()
	<-c.done
	c.mu.Lock()
	up := c.up
	c.mu.Unlock()
	if up != nil {
		_ = up.Close()
	}
	_ = c.down.Close()
}
