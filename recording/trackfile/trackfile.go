// Package trackfile writes the RTP packets of one published track into a WebM file as
// they were received: the frames are reassembled (Pion's samplebuilder) but never decoded
// or re-encoded. VP8 video and Opus audio are written; the file is named "<name>.partial"
// while it is being written and renamed to its final name only when it was closed
// cleanly, so that a file cut short (a crash, a full disk) is never taken for a complete one.
package trackfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/at-wat/ebml-go/mkvcore"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
)

// ErrUnsupportedCodec is returned for a codec that is not written (only VP8 and Opus are).
var ErrUnsupportedCodec = errors.New("trackfile: codec not recorded")

// PartialSuffix ends the name of a file still being written, or cut short.
const PartialSuffix = ".partial"

// File is what the writer writes to: a file it can seek in (the index and the duration
// are written into the header at the end).
type File interface {
	io.WriteSeeker
	io.Closer
}

// Options configure a Writer.
type Options struct {
	Path  string // the final name; the file is written as Path+PartialSuffix
	Codec webrtc.RTPCodecParameters
	// Create opens the file to write (os.Create when nil): tests inject faults here.
	Create func(name string) (File, error)
}

// Info is what a closed Writer wrote.
type Info struct {
	Path     string // the final name if Complete, else the partial file's (which may be absent)
	Bytes    int64
	Duration time.Duration
	// FirstRTP is the RTP timestamp of the first frame written and FirstAt when its first
	// packet arrived; HasFirst is false when nothing was written.
	FirstRTP uint32
	FirstAt  time.Time
	HasFirst bool
	Packets  int // RTP packets accepted
	Frames   int // frames written
	Skipped  int // packets or frames left out: unreadable payloads, frames before the first keyframe
	Complete bool
	Problem  string // why the file is not complete ("" when it is)
}

// Writer writes one track. It is not safe for concurrent use: one goroutine (the track's
// own) calls WriteRTP and Close.
type Writer struct {
	opts   Options
	video  bool
	opus   bool
	depack rtp.Depacketizer // for checking payloads before they reach the sample builder
	sb     *samplebuilder.SampleBuilder

	file    *errFile
	block   webm.BlockWriteCloser
	partial string
	closed  bool

	ssrc     uint32
	haveSSRC bool
	arrivals map[uint32]time.Time // arrival by RTP timestamp, until the first frame is written

	// The timeline: RTP timestamps are unwrapped to 64 bits; base is the unwrapped
	// timestamp at which the file's time 0 is; a new SSRC (the publisher's stream replaced)
	// continues the timeline by the time that passed.
	lastTS   uint32
	unwrapTS int64
	base     int64
	lastMs   int64
	lastAt   time.Time
	waitKey  bool

	info Info
	err  error // the first error that broke the file
}

// New prepares a writer; nothing is written to disk before the first usable frame.
func New(opts Options) (*Writer, error) {
	w := &Writer{opts: opts, partial: opts.Path + PartialSuffix, arrivals: map[uint32]time.Time{}}
	w.info.Path = w.partial
	switch mime := opts.Codec.MimeType; {
	case strings.EqualFold(mime, webrtc.MimeTypeVP8):
		w.video, w.waitKey = true, true
		w.depack = &codecs.VP8Packet{}
	case strings.EqualFold(mime, webrtc.MimeTypeOpus):
		w.opus = true
		w.depack = &codecs.OpusPacket{}
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedCodec, mime)
	}
	if opts.Codec.ClockRate == 0 {
		return nil, fmt.Errorf("trackfile: codec %s without a clock rate", opts.Codec.MimeType)
	}
	w.newBuilder()
	return w, nil
}

func (w *Writer) newBuilder() {
	var d rtp.Depacketizer
	maxLate := uint16(50)
	if w.video {
		d, maxLate = &codecs.VP8Packet{}, 512
	} else {
		d = &codecs.OpusPacket{}
	}
	w.sb = samplebuilder.New(maxLate, d, w.opts.Codec.ClockRate, samplebuilder.WithMaxTimeDelay(time.Second))
}

// Err is the error that broke the file, if any: once set, packets are no longer written.
func (w *Writer) Err() error { return w.err }

// WriteRTP adds one packet, which arrived at at. The writer keeps pkt (the caller gives it
// up). It returns an error only when the file can no longer be written (the disk is full);
// an unreadable payload is counted as skipped and is not an error.
func (w *Writer) WriteRTP(pkt *rtp.Packet, at time.Time) error {
	if w.err != nil || w.closed {
		return w.err
	}
	if len(pkt.Payload) == 0 {
		return nil // padding
	}
	if _, err := w.depack.Unmarshal(pkt.Payload); err != nil {
		w.info.Skipped++
		return nil
	}
	if w.haveSSRC && pkt.SSRC != w.ssrc {
		// Another stream (a new SSRC): finish the old one's frames, then continue the
		// timeline from the time that passed.
		w.drain(true)
		if w.err != nil {
			return w.err
		}
		w.newBuilder()
		w.arrivals = map[uint32]time.Time{}
		gap := max(at.Sub(w.lastAt), time.Millisecond)
		w.lastTS = pkt.Timestamp
		w.unwrapTS = w.unwrapTS + int64(gap)*int64(w.opts.Codec.ClockRate)/int64(time.Second)
		// the new stream's first timestamp maps to the unwrapped value just computed
		w.ssrc = pkt.SSRC
		w.waitKey = w.video
	}
	if !w.haveSSRC {
		w.ssrc, w.haveSSRC, w.lastTS = pkt.SSRC, true, pkt.Timestamp
	}
	if !w.info.HasFirst { // the first frame's arrival is kept (for alignment), no other
		if _, ok := w.arrivals[pkt.Timestamp]; !ok && len(w.arrivals) < 4096 {
			w.arrivals[pkt.Timestamp] = at
		}
	}
	w.info.Packets++
	w.lastAt = at
	w.sb.Push(pkt)
	w.drain(false)
	return w.err
}

// drain writes the frames the sample builder completed (all of them when flush).
func (w *Writer) drain(flush bool) {
	if flush {
		w.sb.Flush()
	}
	for {
		s := w.sb.Pop()
		if s == nil {
			return
		}
		at, ok := w.arrivals[s.PacketTimestamp]
		if !ok {
			at = w.lastAt
		}
		if w.err == nil {
			w.writeFrame(s.Data, s.PacketTimestamp, at)
		}
		if w.info.HasFirst && len(w.arrivals) > 0 {
			clear(w.arrivals)
		}
	}
}

func (w *Writer) writeFrame(data []byte, ts uint32, at time.Time) {
	key := true
	if w.video {
		var width, height int
		var valid bool
		key, width, height, valid = vp8Frame(data)
		if !valid || (w.waitKey && !key) {
			w.info.Skipped++
			return
		}
		if w.block == nil {
			if err := w.open(&webm.Video{PixelWidth: uint64(width), PixelHeight: uint64(height)}, nil); err != nil {
				w.fail(err)
				return
			}
		}
		w.waitKey = false
	} else {
		if !opusValid(data) {
			w.info.Skipped++
			return
		}
		if w.block == nil {
			if err := w.open(nil, &webm.Audio{SamplingFrequency: 48000, Channels: 2}); err != nil {
				w.fail(err)
				return
			}
		}
	}
	// Unwrap the RTP timestamp (it wraps after 2^32 ticks; frames come in order here).
	w.unwrapTS += int64(int32(ts - w.lastTS))
	w.lastTS = ts
	if !w.info.HasFirst {
		w.info.HasFirst, w.info.FirstRTP, w.info.FirstAt = true, ts, at
		w.base = w.unwrapTS
	}
	ms := (w.unwrapTS - w.base) * 1000 / int64(w.opts.Codec.ClockRate)
	if ms < w.lastMs {
		ms = w.lastMs // a frame out of order by its timestamp: keep the file's order
	}
	w.lastMs = ms
	if _, err := w.block.Write(key, ms, data); err != nil {
		w.fail(err)
		return
	}
	if err := w.file.failed(); err != nil {
		w.fail(err)
		return
	}
	w.info.Frames++
}

// open creates the partial file and writes the WebM header.
func (w *Writer) open(video *webm.Video, audio *webm.Audio) error {
	create := w.opts.Create
	if create == nil {
		create = func(name string) (File, error) { return os.Create(name) }
	}
	f, err := create(w.partial)
	if err != nil {
		return fmt.Errorf("create %s: %w", w.partial, err)
	}
	w.file = &errFile{f: f}
	entry := webm.TrackEntry{Name: "track", TrackNumber: 1, TrackUID: 1}
	if video != nil {
		entry.CodecID, entry.TrackType, entry.Video = "V_VP8", 1, video
	} else {
		entry.CodecID, entry.TrackType, entry.Audio = "A_OPUS", 2, audio
		entry.CodecPrivate = opusHead(2)
		entry.SeekPreRoll = 80_000_000
	}
	info := *webm.DefaultSegmentInfo
	info.MuxingApp, info.WritingApp = "puente", "puente"
	ws, err := webm.NewSimpleBlockWriter(w.file, []webm.TrackEntry{entry},
		mkvcore.WithSegmentInfo(&info), mkvcore.WithBlockInterceptor(nil),
		mkvcore.WithSeekHead(true), mkvcore.WithCues(4096))
	if err == nil {
		err = w.file.failed()
	}
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("write the header of %s: %w", w.partial, err)
	}
	w.block = ws[0]
	return nil
}

func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// Abort closes the file without finishing it: it stays under its partial name, with
// problem as the reason. For a track given up (its queue overflowed, the recording was cut).
func (w *Writer) Abort(problem string) Info {
	if w.closed {
		return w.info
	}
	w.closed = true
	if w.block != nil {
		_ = w.block.Close()
	}
	if st, err := os.Stat(w.partial); err == nil {
		w.info.Bytes = st.Size()
	}
	w.info.Duration = time.Duration(w.lastMs) * time.Millisecond
	if w.err != nil {
		problem += ": " + w.err.Error()
	}
	w.info.Problem = problem
	return w.info
}

// Close writes what is left and closes the file; only a file written without an error is
// renamed to its final name. Closing twice returns the same Info.
func (w *Writer) Close() Info {
	if w.closed {
		return w.info
	}
	w.closed = true
	if w.err == nil {
		w.drain(true)
	}
	if w.block == nil {
		if w.err != nil {
			w.info.Problem = w.err.Error()
		} else {
			w.info.Problem = "nothing was received"
		}
		return w.info
	}
	_ = w.block.Close() // flushes the last cluster, the index and the duration, closes the file
	if w.err == nil {
		w.err = w.file.failed()
	}
	w.info.Duration = time.Duration(w.lastMs) * time.Millisecond
	if w.err == nil {
		if err := os.Rename(w.partial, w.opts.Path); err != nil {
			w.err = fmt.Errorf("rename %s: %w", w.partial, err)
		} else {
			w.info.Path = w.opts.Path
		}
	}
	if st, err := os.Stat(w.info.Path); err == nil {
		w.info.Bytes = st.Size()
	}
	if w.err != nil {
		w.info.Problem = w.err.Error()
		return w.info
	}
	w.info.Complete = true
	return w.info
}

// errFile keeps the first write error and swallows what follows it: the WebM writer's own
// goroutine stops for good (and blocks its callers) on a write error, so it never sees
// one; the Writer checks failed() after every frame instead. The WebM writer writes from
// its own goroutine, hence the lock.
type errFile struct {
	f        File
	mu       sync.Mutex
	err      error
	closeErr error
}

func (e *errFile) failed() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return e.err
	}
	return e.closeErr
}

func (e *errFile) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return len(p), nil
	}
	n, err := e.f.Write(p)
	switch {
	case err != nil:
		e.err = err
	case n < len(p):
		e.err = io.ErrShortWrite
	}
	return len(p), nil
}

func (e *errFile) Seek(offset int64, whence int) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return offset, nil
	}
	n, err := e.f.Seek(offset, whence)
	if err != nil {
		e.err = err
		return offset, nil
	}
	return n, nil
}

func (e *errFile) Close() error {
	err := e.f.Close()
	e.mu.Lock()
	e.closeErr = err
	e.mu.Unlock()
	return err
}

// vp8Frame reads a VP8 frame's tag (RFC 6386 §9.1): whether it is a keyframe, its size
// (keyframes only), and whether the tag is plausible.
func vp8Frame(b []byte) (key bool, width, height int, valid bool) {
	if len(b) < 3 {
		return false, 0, 0, false
	}
	tag := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	key = tag&1 == 0
	version := (tag >> 1) & 7
	firstPart := int(tag >> 5)
	if version > 3 || firstPart > len(b) {
		return false, 0, 0, false
	}
	if !key {
		return false, 0, 0, true
	}
	if len(b) < 10 || b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
		return false, 0, 0, false
	}
	width = int(binary.LittleEndian.Uint16(b[6:8]) & 0x3fff)
	height = int(binary.LittleEndian.Uint16(b[8:10]) & 0x3fff)
	return true, width, height, width > 0 && height > 0
}

// opusValid applies the framing rules of RFC 6716 §3.4 that need no decoding.
func opusValid(b []byte) bool {
	if len(b) < 1 {
		return false
	}
	switch b[0] & 3 {
	case 0:
		return len(b)-1 <= 1275
	case 1:
		return (len(b)-1)%2 == 0 && (len(b)-1)/2 <= 1275
	case 2:
		if len(b) < 2 {
			return false
		}
		n, i := int(b[1]), 2
		if n >= 252 {
			if len(b) < 3 {
				return false
			}
			n, i = n+4*int(b[2]), 3
		}
		return n <= len(b)-i && n <= 1275 && len(b)-i-n <= 1275
	default:
		if len(b) < 2 {
			return false
		}
		m := int(b[1] & 0x3f)
		// at most 120 ms in a packet
		// in tenths of a millisecond, by configuration: SILK, hybrid, CELT
		frame := []int{100, 200, 400, 600, 100, 200, 400, 600, 100, 200, 400, 600, 100, 200, 100, 200, 25, 50, 100, 200, 25, 50, 100, 200, 25, 50, 100, 200, 25, 50, 100, 200}[b[0]>>3]
		return m >= 1 && m*frame <= 1200
	}
}

// opusHead is the Opus identification header (RFC 7845 §5.1) WebM carries as CodecPrivate.
func opusHead(channels byte) []byte {
	h := []byte("OpusHead")
	h = append(h, 1, channels, 0, 0) // version, channels, pre-skip 0
	h = binary.LittleEndian.AppendUint32(h, 48000)
	return append(h, 0, 0, 0) // output gain 0, mapping family 0
}
