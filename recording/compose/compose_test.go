package compose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
)

// needFFmpeg skips nothing: the machine has Debian's ffmpeg; a test without it fails.
func needFFmpeg(t testing.TB) {
	t.Helper()
	if err := (Composer{}).Check(); err != nil {
		t.Fatalf("these tests need ffmpeg and ffprobe at /usr/bin: %v", err)
	}
}

// makeInput runs ffmpeg with a lavfi source into dir/name.
func makeInput(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	full := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)
	full = append(full, out)
	if b, err := exec.Command("/usr/bin/ffmpeg", full...).CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", name, err, b)
	}
	return out
}

// vp8 makes a VP8 WebM from a lavfi video source.
func vp8(t testing.TB, dir, name, source string) {
	makeInput(t, dir, name, "-f", "lavfi", "-i", source, "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8",
		"-b:v", "300k", "-g", "30", "-f", "webm")
}

// opus makes an Opus WebM from a lavfi audio source.
func opus(t testing.TB, dir, name, source string) {
	makeInput(t, dir, name, "-f", "lavfi", "-i", source, "-c:a", "libopus", "-b:a", "48k", "-ar", "48000", "-f", "webm")
}

type probe struct {
	Streams []struct {
		CodecName string            `json:"codec_name"`
		CodecType string            `json:"codec_type"`
		Width     int               `json:"width"`
		Height    int               `json:"height"`
		Tags      map[string]string `json:"tags"`
	} `json:"streams"`
	Format struct {
		Duration string            `json:"duration"`
		Tags     map[string]string `json:"tags"`
	} `json:"format"`
	Chapters []struct {
		StartTime string            `json:"start_time"`
		EndTime   string            `json:"end_time"`
		Tags      map[string]string `json:"tags"`
	} `json:"chapters"`
}

func ffprobe(t testing.TB, path string) probe {
	t.Helper()
	out, err := exec.Command("/usr/bin/ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format",
		"-show_chapters", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func seconds(t testing.TB, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("not seconds: %q", s)
	}
	return f
}

// frameAt decodes one frame of the output at t seconds.
func frameAt(t testing.TB, path string, at float64) image.Image {
	t.Helper()
	out, err := exec.Command("/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-ss", strconv.FormatFloat(at, 'f', 3, 64),
		"-i", path, "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "pipe:1").Output()
	if err != nil {
		t.Fatalf("frame at %.1f s: %v", at, err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// rgbAt is the colour at (x, y) in 8-bit channels.
func rgbAt(img image.Image, x, y int) (int, int, int) {
	r, g, b, _ := img.At(x, y).RGBA()
	return int(r >> 8), int(g >> 8), int(b >> 8)
}

// TestComposePictureInPicture composes a screen (blue), a camera (red) and a microphone into
// one MP4 and checks the codecs, the length, the chapters, the metadata and the layout.
func TestComposePictureInPicture(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	vp8(t, dir, "camera.webm", "color=c=red:s=320x240:r=30:d=6")
	vp8(t, dir, "screen.webm", "color=c=blue:s=640x360:r=15:d=6")
	opus(t, dir, "mic.webm", "sine=f=440:r=48000:d=6")
	t0 := time.Date(2026, 3, 5, 15, 0, 0, 0, time.UTC)
	in := Input{
		TrackDir: dir,
		Tracks: []domain.RecordedTrack{
			{ID: 1, Segment: 1, Source: domain.SourceCamera, Kind: "video", Codec: "video/VP8", File: "camera.webm", ClockRate: 90000, FirstRTP: 1000, FirstAt: t0},
			{ID: 2, Segment: 1, Source: domain.SourceScreen, Kind: "video", Codec: "video/VP8", File: "screen.webm", ClockRate: 90000, FirstRTP: 5000, FirstAt: t0},
			{ID: 3, Segment: 1, Source: domain.SourceMicrophone, Kind: "audio", Codec: "audio/opus", File: "mic.webm", ClockRate: 48000, FirstRTP: 77, FirstAt: t0},
		},
		Chapters: []domain.RecordingChapter{
			{At: 4500 * time.Millisecond, Title: "And the cathode = ?"},
			{At: 1500 * time.Millisecond, Title: "¿Cuánto litio hay en Atacama?"},
			{At: 30 * time.Second, Title: "after the end"},
		},
		Meta: Meta{Title: "Solid-state electrolytes", Series: "Lithium seminar", Speakers: "Ana Souza, Bo Li", Date: "2026-03-05", Language: "es"},
	}
	out := filepath.Join(dir, "out.mp4")
	var last float64
	var calls int
	res, err := Compose(context.Background(), in, out, func(p float64) {
		if p < last {
			t.Errorf("progress went back: %v after %v", p, last)
		}
		last = p
		calls++
	})
	if err != nil {
		t.Fatal(err)
	}
	if last != 1 || calls < 2 {
		t.Errorf("progress: last %v after %d reports", last, calls)
	}
	if _, err := os.Stat(out + ".partial"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partial file left: %v", err)
	}
	if res.Chapters != 3 || res.Segments != 1 || res.Bytes <= 0 {
		t.Errorf("result %+v", res)
	}
	p := ffprobe(t, out)
	var v, a bool
	for _, s := range p.Streams {
		switch s.CodecType {
		case "video":
			v = s.CodecName == "h264" && s.Width == 1280 && s.Height == 720
		case "audio":
			a = s.CodecName == "aac" && s.Tags["language"] == "spa"
		}
	}
	if !v || !a {
		t.Errorf("streams: %+v", p.Streams)
	}
	if d := seconds(t, p.Format.Duration); math.Abs(d-6) > 1 {
		t.Errorf("duration %.3f s, want 6 ± 1", d)
	}
	tags := map[string]string{}
	for k, v := range p.Format.Tags {
		tags[strings.ToLower(k)] = v
	}
	if tags["title"] != "Solid-state electrolytes" || tags["artist"] != "Ana Souza, Bo Li" || tags["date"] != "2026-03-05" ||
		!strings.Contains(tags["comment"], "Lithium seminar") {
		t.Errorf("metadata: %v", p.Format.Tags)
	}
	if len(p.Chapters) != 3 {
		t.Fatalf("chapters: %+v", p.Chapters)
	}
	for i, want := range []struct {
		start, end float64
		title      string
	}{{0, 1.5, "Solid-state electrolytes"}, {1.5, 4.5, "¿Cuánto litio hay en Atacama?"}, {4.5, 6, "And the cathode = ?"}} {
		c := p.Chapters[i]
		if math.Abs(seconds(t, c.StartTime)-want.start) > 0.01 || math.Abs(seconds(t, c.EndTime)-want.end) > 1 || c.Tags["title"] != want.title {
			t.Errorf("chapter %d: %+v, want %+v", i, c, want)
		}
	}
	img := frameAt(t, out, 3)
	// The camera's inset: 320x180 less its aspect (240x180) in the bottom right corner.
	if r, g, b := rgbAt(img, 1280-24-100, 720-24-90); r < 180 || g > 80 || b > 80 {
		t.Errorf("corner is (%d,%d,%d), want the camera's red", r, g, b)
	}
	for _, pt := range [][2]int{{200, 200}, {640, 360}, {1100, 100}} {
		if r, g, b := rgbAt(img, pt[0], pt[1]); b < 180 || r > 80 || g > 80 {
			t.Errorf("(%d,%d) is (%d,%d,%d), want the screen's blue", pt[0], pt[1], r, g, b)
		}
	}
}
