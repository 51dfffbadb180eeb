package trackfile_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/recording/mediatest"
	"github.com/puente-org/puente/recording/trackfile"
)

var (
	vp8  = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}
	opus = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}
)

// packetize turns frames into RTP packets as a browser sends them, from RTP timestamp ts0.
func packetize(frames []mediatest.Frame, codec webrtc.RTPCodecParameters, ts0 uint32) []*rtp.Packet {
	var pay rtp.Payloader = &codecs.OpusPayloader{}
	if codec.MimeType == webrtc.MimeTypeVP8 {
		pay = &codecs.VP8Payloader{EnablePictureID: true}
	}
	p := rtp.NewPacketizer(1200, uint8(codec.PayloadType), 0x1234, pay, rtp.NewFixedSequencer(100), codec.ClockRate)
	var out []*rtp.Packet
	ts := ts0
	for _, f := range frames {
		pkts := p.Packetize(f.Data, 0)
		for _, pk := range pkts {
			pk.Timestamp = ts
		}
		out = append(out, pkts...)
		ts += uint32(f.Duration.Seconds() * float64(codec.ClockRate))
	}
	return out
}

func write(t *testing.T, w *trackfile.Writer, pkts []*rtp.Packet, start time.Time, clock uint32, ts0 uint32) error {
	t.Helper()
	for _, pk := range pkts {
		at := start.Add(time.Duration(float64(pk.Timestamp-ts0) / float64(clock) * float64(time.Second)))
		if err := w.WriteRTP(pk, at); err != nil {
			return err
		}
	}
	return nil
}

// A VP8 video and an Opus audio are written as received and read back by ffprobe with
// their codec, all their frames and their length; the RTP timestamps wrap on the way.
func TestWritesVP8AndOpus(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		codec  webrtc.RTPCodecParameters
		frames []mediatest.Frame
		probe  string
	}{
		{"video", vp8, mediatest.VP8(t, 3), "vp8"},
		{"audio", opus, mediatest.Opus(t, 3), "opus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".webm")
			w, err := trackfile.New(trackfile.Options{Path: path, Codec: tc.codec})
			if err != nil {
				t.Fatal(err)
			}
			ts0 := -tc.codec.ClockRate // wraps after one second
			pkts := packetize(tc.frames, tc.codec, ts0)
			if err := write(t, w, pkts, start, tc.codec.ClockRate, ts0); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path + trackfile.PartialSuffix); err != nil {
				t.Fatalf("while writing, the partial file: %v", err)
			}
			info := w.Close()
			if !info.Complete || info.Problem != "" || info.Path != path {
				t.Fatalf("not complete: %+v", info)
			}
			if _, err := os.Stat(path + trackfile.PartialSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the partial file is left: %v", err)
			}
			if info.Frames != len(tc.frames) || info.Skipped != 0 || info.Packets != len(pkts) || !info.HasFirst ||
				info.FirstRTP != ts0 || !info.FirstAt.Equal(start) {
				t.Fatalf("info: %+v (sent %d frames in %d packets)", info, len(tc.frames), len(pkts))
			}
			st, _ := os.Stat(path)
			if info.Bytes != st.Size() || info.Bytes == 0 {
				t.Fatalf("bytes %d, file %d", info.Bytes, st.Size())
			}
			p := mediatest.ProbeFile(t, path)
			if len(p.Streams) != 1 || p.Streams[0].CodecName != tc.probe || !strings.Contains(p.Format.FormatName, "webm") {
				t.Fatalf("ffprobe: %+v", p)
			}
			if d := p.Duration(); d < 2*time.Second || d > 4*time.Second {
				t.Fatalf("ffprobe duration %v, sent 3 s", d)
			}
			if p.Frames() != len(tc.frames) {
				t.Fatalf("ffprobe counted %d frames, sent %d", p.Frames(), len(tc.frames))
			}
			if tc.name == "video" && (p.Streams[0].Width != 320 || p.Streams[0].Height != 240) {
				t.Fatalf("size %dx%d", p.Streams[0].Width, p.Streams[0].Height)
			}
		})
	}
}

// Random payloads among the good frames are skipped and counted, never written in a way
// that breaks the file and never a panic; random payloads alone make no file and say so.
func TestGarbagePayloads(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 9))
	random := func() []byte {
		b := make([]byte, 1+r.IntN(1100))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	start := time.Now()
	for _, tc := range []struct {
		name   string
		codec  webrtc.RTPCodecParameters
		frames []mediatest.Frame
	}{
		{"video", vp8, mediatest.VP8(t, 2)},
		{"audio", opus, mediatest.Opus(t, 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := packetize(tc.frames, tc.codec, 5000)
			// After each good frame's packets, a random packet of its own with a timestamp
			// between frames and the next sequence number; the good ones are renumbered.
			var mixed []*rtp.Packet
			seq := uint16(40000)
			for i, pk := range good {
				pk.SequenceNumber = seq
				seq++
				mixed = append(mixed, pk)
				if pk.Marker || i == len(good)-1 || good[i+1].Timestamp != pk.Timestamp {
					mixed = append(mixed, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 0x1234, SequenceNumber: seq,
						Timestamp: pk.Timestamp + 1, Marker: true}, Payload: random()})
					seq++
				}
			}
			path := filepath.Join(dir, "mixed-"+tc.name+".webm")
			w, err := trackfile.New(trackfile.Options{Path: path, Codec: tc.codec})
			if err != nil {
				t.Fatal(err)
			}
			for _, pk := range mixed {
				if err := w.WriteRTP(pk, start); err != nil {
					t.Fatal(err)
				}
			}
			info := w.Close()
			if !info.Complete || info.Skipped == 0 || info.Frames < len(tc.frames) {
				t.Fatalf("info %+v (%d good frames)", info, len(tc.frames))
			}
			p := mediatest.ProbeFile(t, path)
			if len(p.Streams) != 1 || p.Frames() < len(tc.frames) {
				t.Fatalf("ffprobe: %+v, %d frames of %d good", p, p.Frames(), len(tc.frames))
			}
			t.Logf("%s: %d good frames, %d written, %d skipped", tc.name, len(tc.frames), info.Frames, info.Skipped)

			// Garbage only.
			only := filepath.Join(dir, "garbage-"+tc.name+".webm")
			w, err = trackfile.New(trackfile.Options{Path: only, Codec: vp8})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 500 {
				_ = w.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i / 3 * 3000), Marker: i%3 == 2},
					Payload: random()}, start)
			}
			info = w.Close()
			if info.Complete || info.Problem == "" || info.Frames != 0 {
				t.Fatalf("garbage only: %+v", info)
			}
			for _, name := range []string{only, only + trackfile.PartialSuffix} {
				if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("garbage only left %s: %v", name, err)
				}
			}
		})
	}
}

// fullDisk is a file that refuses writes past limit bytes, as a full disk does.
type fullDisk struct {
	*os.File
	limit, n int64
}

func (f *fullDisk) Write(p []byte) (int, error) {
	if f.n+int64(len(p)) > f.limit {
		return 0, syscall.ENOSPC
	}
	n, err := f.File.Write(p)
	f.n += int64(n)
	return n, err
}

// A full disk stops the file: it is never renamed to its final name, and Close says why.
func TestDiskFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cam.webm")
	w, err := trackfile.New(trackfile.Options{Path: path, Codec: vp8, Create: func(name string) (trackfile.File, error) {
		f, err := os.Create(name)
		if err != nil {
			return nil, err
		}
		return &fullDisk{File: f, limit: 40_000}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	err = write(t, w, packetize(mediatest.VP8(t, 3), vp8, 0), time.Now(), 90000, 0)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing past a full disk: %v", err)
	}
	info := w.Close()
	if info.Complete || !strings.Contains(info.Problem, "no space left") || !strings.HasSuffix(info.Path, trackfile.PartialSuffix) {
		t.Fatalf("info %+v", info)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a cut file is presented as complete: %v", err)
	}
	if _, err := os.Stat(path + trackfile.PartialSuffix); err != nil {
		t.Fatalf("the partial file: %v", err)
	}
}

// H.264 and other codecs are refused when the writer is made.
func TestUnsupportedCodec(t *testing.T) {
	h264 := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}}
	if _, err := trackfile.New(trackfile.Options{Path: filepath.Join(t.TempDir(), "x.webm"), Codec: h264}); !errors.Is(err, trackfile.ErrUnsupportedCodec) {
		t.Fatalf("H.264: %v", err)
	}
}
