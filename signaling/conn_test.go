package signaling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// harness is an httptest server that upgrades every request and runs a Conn on it.
type harness struct {
	t      *testing.T
	srv    *httptest.Server
	origin string
	url    string
	conns  chan *Conn
	got    chan Incoming
	runErr chan error
}

// newHarness starts a server. onMessage, if set, runs in the handler after the message is
// recorded.
func newHarness(t *testing.T, ctx context.Context, opts ConnOptions, onMessage func(*Conn, Incoming)) *harness {
	t.Helper()
	h := &harness{
		t:      t,
		conns:  make(chan *Conn, 4),
		got:    make(chan Incoming, 1000),
		runErr: make(chan error, 4),
	}
	var up *Upgrader
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		c := NewConn(ws, opts)
		h.conns <- c
		h.runErr <- c.Run(ctx, func(in Incoming) {
			h.got <- in
			if onMessage != nil {
				onMessage(c, in)
			}
		})
	}))
	h.origin = "http://" + h.srv.Listener.Addr().String()
	up = NewUpgrader([]string{h.origin})
	h.srv.Start()
	h.url = "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/live/ws"
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) dial() *websocket.Conn {
	h.t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(h.url, http.Header{"Origin": {h.origin}})
	if err != nil {
		h.t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	h.t.Cleanup(func() { ws.Close() })
	return ws
}

func (h *harness) conn() *Conn {
	h.t.Helper()
	select {
	case c := <-h.conns:
		return c
	case <-time.After(5 * time.Second):
		h.t.Fatal("no connection")
		return nil
	}
}

// waitRun waits for Run to return and gives its error.
func (h *harness) waitRun() error {
	h.t.Helper()
	select {
	case err := <-h.runErr:
		noWriterLeft(h.t)
		return err
	case <-time.After(10 * time.Second):
		h.t.Fatal("Run did not return")
		return nil
	}
}

// noWriterLeft checks, at once and without retries, that no Conn writer goroutine runs:
// Run must not return before its writer has exited. (Tests run one at a time.)
func noWriterLeft(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	if bytes.Contains(buf, []byte("signaling.(*Conn).write(")) {
		t.Errorf("a writer goroutine outlived Run:\n%s", buf)
	}
}

func (h *harness) next() Incoming {
	h.t.Helper()
	select {
	case in := <-h.got:
		return in
	case <-time.After(5 * time.Second):
		h.t.Fatal("no message handled")
		return Incoming{}
	}
}

func (h *harness) noMore() {
	h.t.Helper()
	select {
	case in := <-h.got:
		h.t.Fatalf("unexpected message handled: %+v", in)
	default:
	}
}

func send(t *testing.T, ws *websocket.Conn, msg string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("write %s: %v", msg, err)
	}
}

const hello = `{"type":"hello","v":1,"token":"v1.t"}`

// serverMsg is any server message, loosely.
type serverMsg struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Ref     string `json:"ref"`
	Reason  string `json:"reason"`
	Role    string `json:"role"`
}

func read(t *testing.T, ws *websocket.Conn) serverMsg {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("frame type %d", typ)
	}
	var m serverMsg
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("server sent %q: %v", data, err)
	}
	return m
}

func readError(t *testing.T, ws *websocket.Conn, code, ref string) {
	t.Helper()
	m := read(t, ws)
	if m.Type != TypeError || m.Code != code || m.Ref != ref || m.Message == "" {
		t.Fatalf("got %+v; want error %s with ref %q", m, code, ref)
	}
}

// closeCode reads until the connection ends and returns the close code the server sent
// (1006 when it just went away). Messages before are returned too.
func closeCode(t *testing.T, ws *websocket.Conn) (int, []serverMsg) {
	t.Helper()
	var msgs []serverMsg
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, msgs
			}
			t.Fatalf("read: %v; want a close", err)
		}
		var m serverMsg
		_ = json.Unmarshal(data, &m)
		msgs = append(msgs, m)
	}
}

func TestConnMessagesInOrder(t *testing.T) {
	h := newHarness(t, context.Background(), ConnOptions{}, nil)
	ws := h.dial()
	send(t, ws, `{"type":"hello","v":1,"token":"v1.t","ref":"h"}`)
	const n = 40 // within the default burst of 50
	for i := range n {
		send(t, ws, fmt.Sprintf(`{"type":"chat","ref":"r%d","text":"message %d"}`, i, i))
	}
	if in := h.next(); in.Type != TypeHello || in.Token != "v1.t" || in.Ref != "h" {
		t.Fatalf("first = %+v", in)
	}
	for i := range n {
		in := h.next()
		if in.Type != TypeChat || in.Text != fmt.Sprintf("message %d", i) || in.Ref != fmt.Sprintf("r%d", i) {
			t.Fatalf("message %d = %+v", i, in)
		}
	}
	// A client close is echoed and Run returns nil.
	if err := ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "tab closed")); err != nil {
		t.Fatal(err)
	}
	if code, _ := closeCode(t, ws); code != websocket.CloseGoingAway {
		t.Errorf("close code %d; want the client's 1001 echoed", code)
	}
	if err := h.waitRun(); err != nil {
		t.Errorf("Run = %v; want nil after a client close", err)
	}
	h.noMore()
}

func TestConnBadMessagesAnsweredAndConnectionContinues(t *testing.T) {
	h := newHarness(t, context.Background(), ConnOptions{}, nil)
	ws := h.dial()
	send(t, ws, hello)
	h.next()

	send(t, ws, `not json`)
	readError(t, ws, CodeBadMessage, "")
	send(t, ws, `{"type":"chat","ref":"r1","text":"   "}`)
	readError(t, ws, CodeBadMessage, "r1")
	send(t, ws, `{"type":"dance","ref":"r2"}`)
	readError(t, ws, CodeUnknownType, "r2")
	send(t, ws, `{"type":"ask","ref":"r3","text":"`+strings.Repeat("?", 501)+`"}`)
	readError(t, ws, CodeTooLarge, "r3")
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"leave"}`)); err != nil {
		t.Fatal(err)
	}
	readError(t, ws, CodeBadMessage, "")
	// A later bad hello is the room's business, not a reason to close here.
	send(t, ws, `{"type":"hello","ref":"r4","v":2,"token":"x"}`)
	readError(t, ws, CodeBadVersion, "r4")

	send(t, ws, `{"type":"chat","ref":"ok","text":"still here"}`)
	if in := h.next(); in.Type != TypeChat || in.Text != "still here" {
		t.Fatalf("got %+v", in)
	}
	h.noMore()
	h.conn().Close(nil)
	if code, _ := closeCode(t, ws); code != websocket.CloseNormalClosure {
		t.Errorf("close code %d", code)
	}
	if err := h.waitRun(); err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestConnFirstMessageMustBeHello(t *testing.T) {
	tests := []struct {
		name, first, code, ref string
	}{
		{"chat first", `{"type":"chat","ref":"c","text":"hi"}`, CodeHelloFirst, "c"},
		{"not json first", `hello`, CodeHelloFirst, ""},
		{"unknown type first", `{"type":"dance","ref":"d"}`, CodeHelloFirst, "d"},
		{"hello of another version", `{"type":"hello","ref":"h","v":2,"token":"t"}`, CodeBadVersion, "h"},
		{"hello without token", `{"type":"hello","ref":"h","v":1}`, CodeBadMessage, "h"},
		{"hello with a huge token", `{"type":"hello","ref":"h","v":1,"token":"` + strings.Repeat("t", 2000) + `"}`, CodeTooLarge, "h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, context.Background(), ConnOptions{}, nil)
			ws := h.dial()
			send(t, ws, tc.first)
			readError(t, ws, tc.code, tc.ref)
			if code, _ := closeCode(t, ws); code != websocket.ClosePolicyViolation {
				t.Errorf("close code %d; want 1008", code)
			}
			if err := h.waitRun(); !errors.Is(err, ErrBadHello) {
				t.Errorf("Run = %v; want ErrBadHello", err)
			}
			h.noMore()
		})
	}
}

func TestConnHelloTimeout(t *testing.T) {
	h := newHarness(t, context.Background(), ConnOptions{HelloTimeout: 100 * time.Millisecond, PingInterval: 20 * time.Millisecond}, nil)
	ws := h.dial() // reads, so it answers pings: those must not stretch the hello deadline
	readError(t, ws, CodeHelloFirst, "")
	if code, _ := closeCode(t, ws); code != websocket.ClosePolicyViolation {
		t.Errorf("close code %d; want 1008", code)
	}
	if err := h.waitRun(); !errors.Is(err, ErrHelloTimeout) {
		t.Errorf("Run = %v; want ErrHelloTimeout", err)
	}
}

func TestConnOversizeFrameCloses1009(t *testing.T) {
	h := newHarness(t, context.Background(), ConnOptions{}, nil)
	ws := h.dial()
	send(t, ws, hello)
	h.next()

	// Exactly the limit is fine.
	prefix, suffix := `{"type":"chat","text":"at the limit","pad":"`, `"}`
	exact := prefix + strings.Repeat("x", MaxMessageBytes-len(prefix)-len(suffix)) + suffix
	send(t, ws, exact)
	if in := h.next(); in.Text != "at the limit" {
		t.Fatalf("got %+v", in)
	}
	// One byte more closes.
	send(t, ws, prefix+strings.Repeat("x", MaxMessageBytes-len(prefix)-len(suffix)+1)+suffix)
	if code, _ := closeCode(t, ws); code != websocket.CloseMessageTooBig {
		t.Errorf("close code %d; want 1009", code)
	}
	if err := h.waitRun(); !errors.Is(err, ErrMessageTooBig) {
		t.Errorf("Run = %v; want ErrMessageTooBig", err)
	}
	h.noMore()
}

func TestConnFloodRateLimitedThenDisconnected(t *testing.T) {
	// A negligible refill rate makes the count exact: the burst passes, the rest is dropped.
	opts := ConnOptions{Rate: 1e-9, Burst: 3, MaxDropped: 5}
	h := newHarness(t, context.Background(), opts, nil)
	ws := h.dial()
	send(t, ws, hello) // not counted
	h.next()
	for i := range 20 {
		// Writes after the server closed may fail; that is the point.
		_ = ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"hand","raised":true,"ref":"f%d"}`, i))
	}
	for range 3 {
		if in := h.next(); in.Type != TypeHand {
			t.Fatalf("got %+v", in)
		}
	}
	for i := 3; i < 8; i++ { // five dropped: four errors, then the last one and the close
		readError(t, ws, CodeRateLimited, fmt.Sprintf("f%d", i))
	}
	code, rest := closeCode(t, ws)
	if code != websocket.ClosePolicyViolation || len(rest) != 0 {
		t.Errorf("close code %d after %+v; want 1008 at once", code, rest)
	}
	if err := h.waitRun(); !errors.Is(err, ErrFlooding) {
		t.Errorf("Run = %v; want ErrFlooding", err)
	}
	h.noMore()
}

func TestConnDefaultRateLimit(t *testing.T) {
	h := newHarness(t, context.Background(), ConnOptions{}, nil)
	ws := h.dial()
	send(t, ws, hello)
	h.next()
	// 300 messages at once: the burst of 50 (plus what refills meanwhile) passes, 200
	// dropped ones close the connection.
	go func() {
		for i := range 300 {
			if ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"hand","raised":true,"ref":"f%d"}`, i)) != nil {
				return
			}
		}
	}()
	code, msgs := closeCode(t, ws)
	if code != websocket.ClosePolicyViolation {
		t.Errorf("close code %d; want 1008", code)
	}
	if len(msgs) != 200 {
		t.Errorf("%d messages before the close; want 200 rate_limited errors", len(msgs))
	}
	for _, m := range msgs {
		if m.Code != CodeRateLimited {
			t.Fatalf("got %+v", m)
		}
	}
	if err := h.waitRun(); !errors.Is(err, ErrFlooding) {
		t.Errorf("Run = %v; want ErrFlooding", err)
	}
	handled := len(h.got)
	if handled < 50 || handled > 100 {
		t.Errorf("%d messages handled; want the burst of 50 and a few refills", handled)
	}
}

// sendPaced sends big messages one at a time, letting the writer empty the queue after
// each, as it can when the client reads. It returns how many were accepted, stopping after max.
func sendPaced(c *Conn, m Encoded, max int) int {
	sent := 0
	for sent < max && c.Send(m) {
		sent++
		for i := 0; i < 200 && c.Queued() > 0; i++ {
			time.Sleep(time.Millisecond)
		}
	}
	return sent
}

func TestConnSlowClientDropped(t *testing.T) {
	const queue = 4
	h := newHarness(t, context.Background(), ConnOptions{QueueSize: queue}, nil)
	ws := h.dial() // and never read from again
	send(t, ws, hello)
	h.next()
	c := h.conn()
	big, err := Encode(ChatMessageOut(ChatMessage{Text: strings.Repeat("x", 32<<10)}))
	if err != nil {
		t.Fatal(err)
	}
	// The socket buffers fill, the writer blocks, the queue fills: Send reports the drop.
	sent := sendPaced(c, big, 100000)
	if sent == 100000 {
		t.Fatal("the queue never filled")
	}
	if sent <= queue {
		t.Errorf("dropped after %d messages: the writer did not even fill the socket buffers", sent)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after the queue filled")
	}
	if c.Send(big) || c.SendValue(RoleMessage(RoleHost)) {
		t.Error("Send succeeded after the drop")
	}
	if err := h.waitRun(); !errors.Is(err, ErrSlowClient) {
		t.Errorf("Run = %v; want ErrSlowClient", err)
	}
	t.Logf("%d messages of 32 KiB accepted before the drop", sent)
}

// The same traffic to a client that reads goes through.
func TestConnReadingClientKeepsUp(t *testing.T) {
	h := newHarness(t, context.Background(), ConnOptions{QueueSize: 4}, nil)
	ws := h.dial()
	send(t, ws, hello)
	h.next()
	c := h.conn()
	big, _ := Encode(ChatMessageOut(ChatMessage{Text: strings.Repeat("x", 32<<10)}))
	const n = 300 // more than the socket buffers hold
	received := make(chan int, 1)
	go func() {
		got := 0
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				received <- got
				return
			}
			got++
		}
	}()
	if sent := sendPaced(c, big, n); sent != n {
		t.Fatalf("dropped after %d messages", sent)
	}
	c.Close(nil)
	if got := <-received; got != n {
		t.Fatalf("client got %d messages", got)
	}
	if err := h.waitRun(); err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestConnOriginChecked(t *testing.T) {
	h := newHarness(t, context.Background(), ConnOptions{}, nil)
	for _, origin := range []string{"", "http://evil.example", "null", strings.Replace(h.origin, "http:", "https:", 1), h.origin + ".evil.example"} {
		hdr := http.Header{}
		if origin != "" {
			hdr.Set("Origin", origin)
		}
		ws, resp, err := websocket.DefaultDialer.Dial(h.url, hdr)
		if err == nil {
			ws.Close()
			t.Fatalf("origin %q: upgraded", origin)
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("origin %q: response %v, %v; want 403", origin, resp, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || !strings.Contains(string(body), "origin") {
			t.Errorf("origin %q: %s %q; want a plain message", origin, ct, body)
		}
	}
	// The allowed origin in other case is allowed.
	ws, resp, err := websocket.DefaultDialer.Dial(h.url, http.Header{"Origin": {strings.ToUpper(h.origin)}})
	if err != nil {
		t.Fatalf("upper-case origin refused: %v", err)
	}
	resp.Body.Close()
	ws.Close()
	// The client vanished without a close frame.
	if err := h.waitRun(); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("Run = %v; want ErrConnectionLost", err)
	}
	select {
	case <-h.runErr:
		t.Fatal("a refused origin reached Run")
	default:
	}
}

func TestOriginAllowed(t *testing.T) {
	u := NewUpgrader([]string{"https://Puente.Example.org", "http://localhost:8080/", "https://base.example.org:443/puente", "not a url", ""})
	tests := []struct {
		origin string
		ok     bool
	}{
		{"https://puente.example.org", true},
		{"HTTPS://PUENTE.EXAMPLE.ORG", true},
		{"https://puente.example.org:443", true},
		{"http://puente.example.org", false},
		{"https://puente.example.org:8443", false},
		{"https://evil.puente.example.org", false},
		{"https://puente.example.org.evil", false},
		{"http://localhost:8080", true},
		{"http://localhost", false},
		{"https://base.example.org", true},
		{"null", false},
		{"", false},
		{"not a url", false},
	}
	for _, tc := range tests {
		if got := u.OriginAllowed(tc.origin); got != tc.ok {
			t.Errorf("OriginAllowed(%q) = %v; want %v", tc.origin, got, tc.ok)
		}
	}
}

func TestConnPingKeepsIdleConnectionOpen(t *testing.T) {
	opts := ConnOptions{PingInterval: 25 * time.Millisecond, PongWait: 150 * time.Millisecond}
	h := newHarness(t, context.Background(), opts, nil)
	ws := h.dial()
	var mu sync.Mutex
	pings := 0
	ws.SetPingHandler(func(data string) error {
		mu.Lock()
		pings++
		mu.Unlock()
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	pongs := make(chan struct{}, 1)
	ws.SetPongHandler(func(string) error {
		select {
		case pongs <- struct{}{}:
		default:
		}
		return nil
	})
	send(t, ws, hello)
	h.next()
	c := h.conn()

	msgs := make(chan serverMsg, 10)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			var m serverMsg
			_ = json.Unmarshal(data, &m)
			msgs <- m
		}
	}()
	// The server answers the client's pings too (from its writer).
	if err := ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pongs:
	case <-time.After(5 * time.Second):
		t.Fatal("no pong from the server")
	}

	time.Sleep(8 * opts.PongWait) // idle, but answering pings
	select {
	case <-c.Done():
		t.Fatal("an idle connection that answers pings was closed")
	case err := <-readErr:
		t.Fatalf("client read failed: %v", err)
	default:
	}
	mu.Lock()
	if pings < 5 {
		t.Errorf("%d pings; want many", pings)
	}
	mu.Unlock()
	if !c.SendValue(RoleMessage(RoleHost)) {
		t.Fatal("Send failed")
	}
	select {
	case m := <-msgs:
		if m.Type != TypeRole {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("message not delivered")
	}
	c.Close(nil)
	var ce *websocket.CloseError
	if err := <-readErr; !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Errorf("client read ended with %v; want close 1000", err)
	}
	if err := h.waitRun(); err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestConnClosedWhenPingsUnanswered(t *testing.T) {
	opts := ConnOptions{PingInterval: 25 * time.Millisecond, PongWait: 150 * time.Millisecond}
	h := newHarness(t, context.Background(), opts, nil)
	ws := h.dial()
	pinged := make(chan struct{}, 1)
	ws.SetPingHandler(func(string) error { // reads, but never answers
		select {
		case pinged <- struct{}{}:
		default:
		}
		return nil
	})
	send(t, ws, hello)
	h.next()
	code, _ := closeCode(t, ws)
	select {
	case <-pinged:
	default:
		t.Error("the server never pinged")
	}
	if code != websocket.CloseGoingAway {
		t.Errorf("close code %d; want 1001", code)
	}
	if err := h.waitRun(); !errors.Is(err, ErrPongTimeout) {
		t.Errorf("Run = %v; want ErrPongTimeout", err)
	}
}

func TestConnCloseFlushesThenSendsFinal(t *testing.T) {
	h := newHarness(t, context.Background(), ConnOptions{}, func(c *Conn, in Incoming) {
		if in.Type == TypeHello {
			c.SendValue(RoleMessage(RoleAttendee))
			c.SendValue(LeftMessage("p2"))
			c.Close(ByeMessage(ByeRemoved, "A host removed you."))
			c.Close(ByeMessage(ByeEnded, "second close is ignored"))
			if c.SendValue(RoleMessage(RoleHost)) {
				panic("Send after Close succeeded")
			}
		}
	})
	ws := h.dial()
	send(t, ws, hello)
	send(t, ws, `{"type":"chat","text":"after the close"}`) // not handled
	code, msgs := closeCode(t, ws)
	if code != websocket.CloseNormalClosure {
		t.Errorf("close code %d", code)
	}
	if len(msgs) != 3 || msgs[0].Type != TypeRole || msgs[1].Type != TypeLeft || msgs[2].Type != TypeBye || msgs[2].Reason != ByeRemoved {
		t.Errorf("got %+v; want role, left, bye removed", msgs)
	}
	if err := h.waitRun(); err != nil {
		t.Errorf("Run = %v", err)
	}
	h.next() // the hello
	h.noMore()
}

func TestConnContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newHarness(t, ctx, ConnOptions{}, nil)
	ws := h.dial()
	send(t, ws, hello)
	h.next()
	cancel()
	if code, _ := closeCode(t, ws); code != websocket.CloseGoingAway {
		t.Errorf("close code %d; want 1001", code)
	}
	if err := h.waitRun(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v; want context.Canceled", err)
	}
}

func TestConnCloseWithoutClientAnswer(t *testing.T) {
	// A client that never answers the close frame is cut off after CloseTimeout.
	h := newHarness(t, context.Background(), ConnOptions{CloseTimeout: 100 * time.Millisecond}, nil)
	ws := h.dial()
	send(t, ws, hello)
	h.next()
	start := time.Now()
	h.conn().Close(nil)
	if err := h.waitRun(); err != nil {
		t.Errorf("Run = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	_ = ws
}

func TestConnConcurrentSendAndClose(t *testing.T) {
	h := newHarness(t, context.Background(), ConnOptions{QueueSize: 1024}, nil)
	ws := h.dial()
	send(t, ws, hello)
	h.next()
	c := h.conn()
	m, _ := Encode(LeftMessage("p"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Send(m)
			}
			c.Close(ByeMessage(ByeShutdown, "bye"))
		})
	}
	code, msgs := closeCode(t, ws)
	wg.Wait()
	if code != websocket.CloseNormalClosure {
		t.Errorf("close code %d", code)
	}
	if len(msgs) == 0 || msgs[len(msgs)-1].Type != TypeBye {
		t.Errorf("last message %+v; want the bye", msgs[len(msgs)-1:])
	}
	if err := h.waitRun(); err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestConnRunTwice(t *testing.T) {
	h := newHarness(t, context.Background(), ConnOptions{}, nil)
	ws := h.dial()
	c := h.conn()
	if err := c.Run(context.Background(), nil); err == nil {
		t.Error("second Run succeeded")
	}
	ws.Close()
	h.waitRun()
}

func TestConnHandlerPanicLeavesNoWriter(t *testing.T) {
	var up *Upgrader
	panicked := make(chan any, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		defer func() { panicked <- recover() }()
		_ = NewConn(ws, ConnOptions{}).Run(context.Background(), func(Incoming) { panic("boom") })
	}))
	origin := "http://" + srv.Listener.Addr().String()
	up = NewUpgrader([]string{origin})
	srv.Start()
	defer srv.Close()
	ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), http.Header{"Origin": {origin}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer ws.Close()
	send(t, ws, hello)
	select {
	case p := <-panicked:
		if p != "boom" {
			t.Fatalf("recovered %v; want the handler's panic passed on", p)
		}
		noWriterLeft(t)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	// goleak (TestMain) checks that the writer goroutine is gone.
}
