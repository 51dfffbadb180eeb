package signaling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// ConnOptions tunes a Conn. Zero values take the defaults of docs/signaling.md.
type ConnOptions struct {
	PingInterval time.Duration // default 20s
	PongWait     time.Duration // default 45s: no pong (or message) for that long closes
	HelloTimeout time.Duration // default 10s: first message deadline
	QueueSize    int           // outgoing queue, default 256; full → connection closed ("slow client")
	Rate         float64       // messages per second, default 20; negative: no limit
	Burst        int           // default 50
	MaxDropped   int           // default 200: after that many rate-limited messages the connection is closed
	Logger       *slog.Logger  // default: discard

	WriteTimeout time.Duration // default 10s: one write to the socket; longer means a slow client
	CloseTimeout time.Duration // default 2s: the whole close (flush, final message, close handshake)
}

func (o ConnOptions) withDefaults() ConnOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.PingInterval, 20*time.Second)
	def(&o.PongWait, 45*time.Second)
	def(&o.HelloTimeout, 10*time.Second)
	def(&o.WriteTimeout, 10*time.Second)
	def(&o.CloseTimeout, 2*time.Second)
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.Rate == 0 {
		o.Rate = 20
	}
	if o.Burst <= 0 {
		o.Burst = 50
	}
	if o.MaxDropped <= 0 {
		o.MaxDropped = 200
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Why a connection ended, as returned by Run. A close by the server (Close) or by the client
// (a close frame) returns nil; a cancelled context returns its cause.
var (
	ErrSlowClient    = errors.New("signaling: slow client (outgoing queue full or write timed out)")
	ErrFlooding      = errors.New("signaling: too many rate-limited messages")
	ErrHelloTimeout  = errors.New("signaling: no hello in time")
	ErrBadHello      = errors.New("signaling: the first message was not a valid hello")
	ErrMessageTooBig = errors.New("signaling: message too big")
	ErrPongTimeout   = errors.New("signaling: no pong in time")
	// ErrConnectionLost wraps the network error when the client went away without a close
	// frame (a crashed tab, a network change): common, and not the server's fault.
	ErrConnectionLost = errors.New("signaling: connection lost")
)

// Conn is one client's websocket: one reader (the goroutine that calls Run) and one writer
// goroutine, with a bounded outgoing queue. Send, SendValue, Close and Done are safe from
// any goroutine.
type Conn struct {
	ws   *websocket.Conn
	opts ConnOptions
	log  *slog.Logger

	queue chan Encoded
	pongs chan string // payloads of pings to answer; the writer sends the pongs

	stopOnce sync.Once
	done     chan struct{}
	end      stopReq // written once, before done is closed

	running   atomic.Bool
	dropped   atomic.Int64 // messages refused: rate-limited or undecodable
	helloSeen bool         // reader goroutine only (Run and the control-frame handlers it calls)
}

// stopReq says how to end the connection.
type stopReq struct {
	cause error   // what Run returns
	code  int     // close frame to send; 0: none
	text  string  // close frame reason (≤ 123 bytes)
	final Encoded // written before the close frame
	flush bool    // write what is already queued first
	abort bool    // close the socket at once: nothing more can get through
}

// NewConn wraps an upgraded websocket. The hello deadline starts now. Run must be called
// for anything to be read or written; the Conn owns ws from here on.
func NewConn(ws *websocket.Conn, opts ConnOptions) *Conn {
	opts = opts.withDefaults()
	c := &Conn{
		ws:    ws,
		opts:  opts,
		log:   opts.Logger,
		queue: make(chan Encoded, opts.QueueSize),
		pongs: make(chan string, 1),
		done:  make(chan struct{}),
	}
	ws.SetReadLimit(MaxMessageBytes)
	_ = ws.SetReadDeadline(time.Now().Add(opts.HelloTimeout))
	// gorilla's default handlers write from the reader goroutine; ours leave every write
	// to the writer goroutine.
	ws.SetPingHandler(func(data string) error {
		select {
		case c.pongs <- data:
		default: // a pong is already due; one answer is enough
		}
		return nil
	})
	ws.SetPongHandler(func(string) error {
		if !c.helloSeen {
			return nil // pongs must not stretch the hello deadline
		}
		return ws.SetReadDeadline(time.Now().Add(opts.PongWait))
	})
	ws.SetCloseHandler(func(int, string) error { return nil })
	return c
}

// Run starts the writer goroutine and reads in the calling goroutine until the connection
// ends or ctx is done. Each decoded message is passed to handle, in order, on this goroutine
// (it must not block long; it may call Send and Close). Malformed, unknown and rate-limited
// messages are answered with an error and not passed on. The first message must be a valid
// hello (it is passed to handle); anything else gets an error and closes the connection.
// Run returns once the socket is closed and the writer has exited.
func (c *Conn) Run(ctx context.Context, handle func(Incoming)) (err error) {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("signaling: Run called twice")
	}
	if handle == nil {
		handle = func(Incoming) {}
	}
	readerDone := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.write(ctx, readerDone)
	}()
	defer func() {
		// read stops the connection before it returns; this stop only counts when handle
		// panicked or called runtime.Goexit: even then the writer must not outlive Run.
		p := recover()
		cause := errors.New("signaling: the handler ended the reader goroutine")
		if p != nil {
			cause = fmt.Errorf("signaling: handler panicked: %v", p)
		}
		c.stop(stopReq{cause: cause, abort: true})
		close(readerDone)
		<-writerDone
		if p != nil {
			panic(p)
		}
		err = c.end.cause
	}()
	c.read(handle)
	return nil
}

// Send queues an encoded message without blocking. It returns false if the connection is
// closed, or if the queue is full: then the client is too slow and the connection is closed.
func (c *Conn) Send(m Encoded) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.queue <- m:
		return true
	default:
		// No close frame: it would only wait behind what the client does not read.
		c.stop(stopReq{cause: ErrSlowClient, abort: true})
		return false
	}
}

// SendValue encodes v and queues it (see Send). An encoding failure is logged and returns
// false without closing the connection.
func (c *Conn) SendValue(v any) bool {
	m, err := Encode(v)
	if err != nil {
		c.log.Error("signaling: cannot encode a message", "err", err)
		return false
	}
	return c.Send(m)
}

// Close ends the connection: what is already queued is written, then final (unless nil,
// e.g. a bye or an error), then a close frame. It does not wait; safe to call many times
// and from any goroutine. Only the first call (or failure) counts.
func (c *Conn) Close(final any) {
	var m Encoded
	if final != nil {
		var err error
		if m, err = Encode(final); err != nil {
			c.log.Error("signaling: cannot encode the final message", "err", err)
		}
	}
	c.stop(stopReq{code: websocket.CloseNormalClosure, final: m, flush: true})
}

// Queued is the number of messages waiting for the writer (for metrics and tests).
func (c *Conn) Queued() int { return len(c.queue) }

// Done is closed as soon as the connection starts to close (Close, a failure, the client
// leaving): from then on Send returns false and no message is passed to handle.
func (c *Conn) Done() <-chan struct{} { return c.done }

// stop records how the connection ends; the first call wins.
func (c *Conn) stop(r stopReq) {
	c.stopOnce.Do(func() {
		c.end = r
		close(c.done)
		if r.abort {
			// Unblock a writer stuck on a client that does not read. Closing the socket
			// is not a write; gorilla allows it from any goroutine.
			_ = c.ws.Close()
		}
		level := slog.LevelDebug
		switch r.cause {
		case nil:
		case ErrSlowClient, ErrFlooding, ErrMessageTooBig:
			level = slog.LevelInfo
		}
		c.log.Log(context.Background(), level, "signaling: connection closing", "cause", r.cause, "close_code", r.code)
	})
}

func (c *Conn) stopping() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Dropped counts the client's messages that were refused (rate-limited or malformed).
func (c *Conn) Dropped() int64 { return c.dropped.Load() }

// read is the reader loop. It returns when reading fails, which always happens after a stop
// (the writer closes the socket at the end).
func (c *Conn) read(handle func(Incoming)) {
	limit := rate.Limit(c.opts.Rate)
	if c.opts.Rate < 0 {
		limit = rate.Inf
	}
	limiter := rate.NewLimiter(limit, c.opts.Burst)
	dropped := 0
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			c.stop(c.readFailure(err))
			return
		}
		if c.stopping() {
			continue // closing: wait for the client's close frame or the socket's end
		}
		if !c.helloSeen {
			in, e := decodeFrame(typ, data)
			if e == nil && in.Type == TypeHello {
				c.helloSeen = true
				_ = c.ws.SetReadDeadline(time.Now().Add(c.opts.PongWait))
				handle(in)
				continue
			}
			if e == nil || in.Type != TypeHello {
				e = &Error{Code: CodeHelloFirst, Message: "the first message must be hello", Ref: in.Ref}
			}
			c.stop(stopReq{cause: ErrBadHello, code: websocket.ClosePolicyViolation, text: e.Code, final: mustEncode(ErrorMessage(e))})
			continue
		}
		// Any message shows the client is alive, as a pong does.
		_ = c.ws.SetReadDeadline(time.Now().Add(c.opts.PongWait))
		if !limiter.Allow() {
			dropped++
			c.dropped.Add(1)
			in, _ := decodeFrame(typ, data) // for the ref only
			e := &Error{Code: CodeRateLimited, Message: "too many messages: this one was dropped", Ref: in.Ref}
			if dropped >= c.opts.MaxDropped {
				e.Message = "too many messages: closing the connection"
				c.stop(stopReq{cause: ErrFlooding, code: websocket.ClosePolicyViolation, text: "flooding", final: mustEncode(ErrorMessage(e)), flush: true})
				continue
			}
			c.Send(mustEncode(ErrorMessage(e)))
			continue
		}
		in, e := decodeFrame(typ, data)
		if e != nil {
			c.dropped.Add(1)
			c.Send(mustEncode(ErrorMessage(e)))
			continue
		}
		handle(in)
	}
}

func decodeFrame(typ int, data []byte) (Incoming, *Error) {
	if typ != websocket.TextMessage {
		return Incoming{}, Errorf(CodeBadMessage, "only text frames are accepted")
	}
	return Decode(data)
}

// mustEncode encodes the package's own message structs, which cannot fail.
func mustEncode(v any) Encoded {
	m, err := Encode(v)
	if err != nil {
		panic(err)
	}
	return m
}

func (c *Conn) readFailure(err error) stopReq {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure:
		// The client closed (or answered our close): echo its code.
		return stopReq{code: ce.Code}
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has already sent the 1009 close frame.
		return stopReq{cause: ErrMessageTooBig, code: websocket.CloseMessageTooBig}
	case errors.As(err, &ne) && ne.Timeout() && !c.helloSeen:
		e := Errorf(CodeHelloFirst, "no hello within %s", c.opts.HelloTimeout)
		return stopReq{cause: ErrHelloTimeout, code: websocket.ClosePolicyViolation, text: "no hello", final: mustEncode(ErrorMessage(e))}
	case errors.As(err, &ne) && ne.Timeout():
		return stopReq{cause: ErrPongTimeout, code: websocket.CloseGoingAway, text: "ping timeout"}
	default:
		// gorilla reports an EOF as close code 1006, which must not be sent back.
		return stopReq{cause: fmt.Errorf("%w: %w", ErrConnectionLost, err), abort: true}
	}
}

// write is the writer loop: the only goroutine that writes to the websocket.
func (c *Conn) write(ctx context.Context, readerDone <-chan struct{}) {
	ticker := time.NewTicker(c.opts.PingInterval)
	defer ticker.Stop()
	for !c.stopping() {
		var err error
		select {
		case <-c.done:
		case <-ctx.Done():
			c.stop(stopReq{cause: context.Cause(ctx), code: websocket.CloseGoingAway, text: "server shutting down"})
		case m := <-c.queue:
			err = c.writeFrame(websocket.TextMessage, m, time.Now().Add(c.opts.WriteTimeout))
		case data := <-c.pongs:
			err = c.writeFrame(websocket.PongMessage, []byte(data), time.Now().Add(c.opts.WriteTimeout))
		case <-ticker.C:
			err = c.writeFrame(websocket.PingMessage, nil, time.Now().Add(c.opts.WriteTimeout))
		}
		if err != nil {
			c.stop(c.writeFailure(err))
		}
	}
	c.finish(readerDone)
}

func (c *Conn) writeFrame(typ int, data []byte, deadline time.Time) error {
	if typ != websocket.TextMessage {
		return c.ws.WriteControl(typ, data, deadline)
	}
	if err := c.ws.SetWriteDeadline(deadline); err != nil {
		return err
	}
	return c.ws.WriteMessage(typ, data)
}

func (c *Conn) writeFailure(err error) stopReq {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return stopReq{cause: ErrSlowClient, abort: true}
	}
	return stopReq{cause: fmt.Errorf("signaling: write: %w", err), abort: true}
}

// finish writes what the stop asks for, waits (boundedly) for the client's close frame and
// closes the socket, which also ends the reader.
func (c *Conn) finish(readerDone <-chan struct{}) {
	defer c.ws.Close()
	r := c.end
	if r.abort {
		return
	}
	deadline := time.Now().Add(c.opts.CloseTimeout)
	if r.flush {
	drain:
		for {
			select {
			case m := <-c.queue:
				if c.writeFrame(websocket.TextMessage, m, deadline) != nil {
					return
				}
			default:
				break drain
			}
		}
	}
	if r.final != nil && c.writeFrame(websocket.TextMessage, r.final, deadline) != nil {
		return
	}
	if r.code == 0 {
		return
	}
	if err := c.writeFrame(websocket.CloseMessage, websocket.FormatCloseMessage(r.code, r.text), deadline); err != nil {
		return
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-readerDone:
	case <-t.C:
	}
}
