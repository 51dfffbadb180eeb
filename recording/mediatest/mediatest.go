// Package mediatest makes real media for tests with ffmpeg (VP8 frames from an IVF file,
// Opus packets from an Ogg file, made at test time) and reads recorded files back with
// ffprobe. It is for tests only.
package mediatest

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// Frame is one encoded frame (VP8) or packet (Opus) and how long it lasts.
type Frame struct {
	Data     []byte
	Duration time.Duration
	Key      bool // a VP8 keyframe
}

// need skips the test when the tool is missing.
func need(t testing.TB, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not installed: %v", tool, err)
	}
	return p
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(need(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// VP8 encodes seconds of a 320x240 test picture at 30 fps with a keyframe every second.
func VP8(t testing.TB, seconds int) []Frame {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.ivf")
	run(t, "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", strconv.Itoa(seconds),
		"-c:v", "libvpx", "-g", "30", "-deadline", "realtime", "-b:v", "300k", path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := ivfreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	var frames []Frame
	for {
		data, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, Frame{Data: data, Duration: time.Second / 30, Key: len(data) > 0 && data[0]&1 == 0})
	}
	if len(frames) == 0 || !frames[0].Key {
		t.Fatalf("ffmpeg made %d frames, the first not a keyframe", len(frames))
	}
	return frames
}

// Opus encodes seconds of a 440 Hz tone as 20 ms Opus packets (one per Ogg page).
func Opus(t testing.TB, seconds int) []Frame {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.ogg")
	run(t, "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000", "-t", strconv.Itoa(seconds),
		"-c:a", "libopus", "-frame_duration", "20", "-page_duration", "20000", path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := oggreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	var frames []Frame
	for {
		data, hdr, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 || hdr.GranulePosition == 0 || string(data[:min(8, len(data))]) == "OpusTags" {
			continue
		}
		frames = append(frames, Frame{Data: data, Duration: 20 * time.Millisecond})
	}
	if len(frames) == 0 {
		t.Fatal("ffmpeg made no Opus packets")
	}
	return frames
}

// Stream is a stream as ffprobe reports it.
type Stream struct {
	CodecName  string `json:"codec_name"`
	CodecType  string `json:"codec_type"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Duration   string `json:"duration"`
	ReadFrames string `json:"nb_read_frames"`
}

// Probe is what ffprobe reads from a file.
type Probe struct {
	Streams []Stream `json:"streams"`
	Format  struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

// Duration is the file's duration.
func (p Probe) Duration() time.Duration {
	s, err := strconv.ParseFloat(p.Format.Duration, 64)
	if err != nil {
		return -1
	}
	return time.Duration(s * float64(time.Second))
}

// Frames is how many frames ffprobe counted in the first stream.
func (p Probe) Frames() int {
	if len(p.Streams) == 0 {
		return -1
	}
	n, err := strconv.Atoi(p.Streams[0].ReadFrames)
	if err != nil {
		return -1
	}
	return n
}

// ProbeFile runs ffprobe (counting the frames, which reads the whole file) on path.
func ProbeFile(t testing.TB, path string) Probe {
	t.Helper()
	out, err := exec.Command(need(t, "ffprobe"), "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", path).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("ffprobe %s: %v\n%s", path, err, ee.Stderr)
		}
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p Probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	return p
}
