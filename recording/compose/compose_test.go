package compose

import (
	"bytes"
	"context"
	"encoding/binary"
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

// flashAndBeep composes a black video with a white flash at 2.000 s of its own time and a
// silent audio track with a 1 kHz beep that, by the alignment given, also sounds at 2.000 s;
// it returns where the flash and the beep are in the output.
func flashAndBeep(t *testing.T, video, audio func(t0 time.Time) domain.RecordedTrack, audioLead time.Duration) (flash, beep time.Duration) {
	t.Helper()
	dir := t.TempDir()
	vp8(t, dir, "camera.webm", "color=c=black:s=320x240:r=30:d=5,drawbox=c=white:t=fill:enable='between(t,2,2.1)'")
	// The audio file starts audioLead after the video: its beep is that much earlier in it.
	at := (2*time.Second - audioLead).Seconds()
	opus(t, dir, "mic.webm", "sine=f=1000:r=48000:d=4,volume=volume=0:enable='not(between(t,"+
		strconv.FormatFloat(at, 'f', 3, 64)+","+strconv.FormatFloat(at+0.2, 'f', 3, 64)+"))'")
	t0 := time.Date(2026, 3, 5, 15, 0, 0, 0, time.UTC)
	v, a := video(t0), audio(t0)
	v.File, a.File = "camera.webm", "mic.webm"
	out := filepath.Join(dir, "out.mp4")
	if _, err := Compose(context.Background(), Input{TrackDir: dir, Tracks: []domain.RecordedTrack{v, a}}, out, nil); err != nil {
		t.Fatal(err)
	}
	// The flash: the first frame whose mean brightness is high (frames at 30 per second).
	raw, err := exec.Command("/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-i", out, "-map", "0:v",
		"-vf", "scale=32:18,format=gray", "-f", "rawvideo", "pipe:1").Output()
	if err != nil {
		t.Fatal(err)
	}
	const fsz = 32 * 18
	flash = -1
	for i := 0; (i+1)*fsz <= len(raw); i++ {
		sum := 0
		for _, px := range raw[i*fsz : (i+1)*fsz] {
			sum += int(px)
		}
		if sum/fsz > 128 {
			flash = time.Duration(i) * time.Second / frameRate
			break
		}
	}
	// The beep: the first millisecond whose samples are loud.
	pcm, err := exec.Command("/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-i", out, "-map", "0:a",
		"-ac", "1", "-ar", "48000", "-f", "s16le", "pipe:1").Output()
	if err != nil {
		t.Fatal(err)
	}
	beep = -1
	for ms := 0; (ms+1)*96 <= len(pcm); ms++ {
		var energy float64
		for i := ms * 96; i < (ms+1)*96; i += 2 {
			s := float64(int16(binary.LittleEndian.Uint16(pcm[i:])))
			energy += s * s
		}
		if math.Sqrt(energy/48) > 1000 {
			beep = time.Duration(ms) * time.Millisecond
			break
		}
	}
	if flash < 0 || beep < 0 {
		t.Fatalf("flash at %v, beep at %v: one was not found", flash, beep)
	}
	return flash, beep
}

func u32(v uint32) *uint32      { return &v }
func at(t time.Time) *time.Time { return &t }

// TestAudioVideoSync measures the offset between a flash and a beep captured together, the
// audio's first sample arriving 500 ms after the video's: by arrival times alone, and by
// sender reports when the arrival time of the audio is 300 ms late (network jitter) and must
// not be trusted.
func TestAudioVideoSync(t *testing.T) {
	needFFmpeg(t)
	const lead = 500 * time.Millisecond
	for _, tc := range []struct {
		name         string
		video, audio func(t0 time.Time) domain.RecordedTrack
	}{
		{"arrival", func(t0 time.Time) domain.RecordedTrack {
			return domain.RecordedTrack{Segment: 1, Source: domain.SourceCamera, Kind: "video", ClockRate: 90000, FirstRTP: 123456, FirstAt: t0}
		}, func(t0 time.Time) domain.RecordedTrack {
			return domain.RecordedTrack{Segment: 1, Source: domain.SourceMicrophone, Kind: "audio", ClockRate: 48000, FirstRTP: 999, FirstAt: t0.Add(lead)}
		}},
		{"sender reports", func(t0 time.Time) domain.RecordedTrack {
			// The report came 1 s into the video: RTP first+90000 is t0+1 s on the sender's clock.
			first := uint32(4294960000)
			return domain.RecordedTrack{Segment: 1, Source: domain.SourceCamera, Kind: "video", ClockRate: 90000, FirstRTP: first,
				FirstAt: t0.Add(40 * time.Millisecond), SRRTP: u32(first + 90000), SRNTP: at(t0.Add(time.Second))}
		}, func(t0 time.Time) domain.RecordedTrack {
			// RTP time wraps between the first sample and the report.
			first := uint32(4294967000)
			return domain.RecordedTrack{Segment: 1, Source: domain.SourceMicrophone, Kind: "audio", ClockRate: 48000, FirstRTP: first,
				FirstAt: t0.Add(lead + 300*time.Millisecond), SRRTP: u32(first + 2*48000), SRNTP: at(t0.Add(lead + 2*time.Second))}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flash, beep := flashAndBeep(t, tc.video, tc.audio, lead)
			offset := beep - flash
			t.Logf("flash at %v, beep at %v: audio-video offset %v", flash, beep, offset)
			if offset.Abs() > 100*time.Millisecond {
				t.Errorf("audio-video offset %v, want within 100 ms", offset)
			}
			if (flash - 2*time.Second).Abs() > 100*time.Millisecond {
				t.Errorf("flash at %v, want 2 s", flash)
			}
		})
	}
}

// TestComposeSegmentsAndFallbacks: a camera alone fills the frame; a segment with sound only
// is black; segments follow one another.
func TestComposeSegmentsAndFallbacks(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	vp8(t, dir, "cam1.webm", "color=c=green:s=320x180:r=30:d=2")
	opus(t, dir, "mic1.webm", "sine=f=440:r=48000:d=2")
	opus(t, dir, "mic2.webm", "sine=f=660:r=48000:d=2")
	t0 := time.Date(2026, 3, 5, 15, 0, 0, 0, time.UTC)
	out := filepath.Join(dir, "out.mp4")
	res, err := Compose(context.Background(), Input{TrackDir: dir, Start: t0.Add(-time.Second), Meta: Meta{Title: "T"}, Chapters: []domain.RecordingChapter{
		{At: 2500 * time.Millisecond, Title: "in segment 1"},
		{At: 10 * time.Minute, Title: "in the gap: starts segment 2"},
		{At: time.Hour + 1500*time.Millisecond, Title: "in segment 2"},
		{At: 2 * time.Hour, Title: "after the end"},
	}, Tracks: []domain.RecordedTrack{
		{Segment: 2, Source: domain.SourceMicrophone, Kind: "audio", File: "mic2.webm", ClockRate: 48000, FirstAt: t0.Add(time.Hour)},
		{Segment: 1, Source: domain.SourceCamera, Kind: "video", File: "cam1.webm", ClockRate: 90000, FirstAt: t0},
		{Segment: 1, Source: domain.SourceMicrophone, Kind: "audio", File: "mic1.webm", ClockRate: 48000, FirstAt: t0},
		{Segment: 1, Source: domain.SourceScreen, Kind: "video", File: "gone.webm", ClockRate: 90000, FirstAt: t0},
	}}, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Segments != 2 {
		t.Errorf("segments: %+v", res)
	}
	p := ffprobe(t, out)
	if d := seconds(t, p.Format.Duration); math.Abs(d-4) > 1 {
		t.Errorf("duration %.3f s, want 4 ± 1", d)
	}
	// The recording started 1 s before segment 1's first track; segment 2 starts an hour
	// after segment 1 in the wall clock and 2 s into the output.
	var got []string
	for _, c := range p.Chapters {
		got = append(got, c.StartTime+" "+c.Tags["title"])
	}
	want := "0.000000 T|1.500000 in segment 1|2.000000 in the gap: starts segment 2|2.500000 in segment 2"
	if g := strings.Join(got, "|"); math.Abs(seconds(t, p.Chapters[2].StartTime)-2) > 0.05 || len(got) != 4 ||
		!strings.HasPrefix(got[1], "1.500000 in segment 1") || !strings.HasSuffix(got[3], " in segment 2") ||
		math.Abs(seconds(t, p.Chapters[3].StartTime)-2.5) > 0.05 {
		t.Errorf("chapters:\n got %s\nwant %s", g, want)
	}
	img := frameAt(t, out, 1)
	for _, pt := range [][2]int{{20, 20}, {640, 360}, {1260, 700}} {
		if r, g, b := rgbAt(img, pt[0], pt[1]); g < 100 || r > 60 || b > 60 {
			t.Errorf("segment 1 (%d,%d) is (%d,%d,%d), want the camera's green full frame", pt[0], pt[1], r, g, b)
		}
	}
	if r, g, b := rgbAt(frameAt(t, out, 3), 640, 360); r+g+b > 60 {
		t.Errorf("segment 2 is (%d,%d,%d), want black", r, g, b)
	}
}

// TestComposeFaults: a missing ffmpeg names the setting; a corrupt input fails and leaves
// no file; a cancelled run leaves no file.
func TestComposeFaults(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	opus(t, dir, "mic.webm", "sine=f=440:r=48000:d=30")
	t0 := time.Date(2026, 3, 5, 15, 0, 0, 0, time.UTC)
	mic := domain.RecordedTrack{Segment: 1, Source: domain.SourceMicrophone, Kind: "audio", File: "mic.webm", ClockRate: 48000, FirstAt: t0}
	out := filepath.Join(dir, "out.mp4")
	noFile := func(t *testing.T) {
		t.Helper()
		for _, p := range []string{out, out + ".partial"} {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: %v, want no file", p, err)
			}
		}
	}

	t.Run("ffmpeg missing", func(t *testing.T) {
		c := Composer{FFmpeg: "/nonexistent/ffmpeg", Setting: "PUENTE_FFMPEG"}
		_, err := c.Compose(context.Background(), Input{TrackDir: dir, Tracks: []domain.RecordedTrack{mic}}, out, nil)
		if !errors.Is(err, ErrFFmpegMissing) || !strings.Contains(err.Error(), "PUENTE_FFMPEG") || !strings.Contains(err.Error(), "/nonexistent/ffmpeg") {
			t.Errorf("err = %v", err)
		}
		noFile(t)
	})
	t.Run("corrupt input", func(t *testing.T) {
		good, err := os.ReadFile(filepath.Join(dir, "mic.webm"))
		if err != nil {
			t.Fatal(err)
		}
		// The header survives, the clusters are noise.
		bad := append([]byte{}, good[:400]...)
		for i := range 200000 {
			bad = append(bad, byte(i*7919>>3))
		}
		if err := os.WriteFile(filepath.Join(dir, "bad.webm"), bad, 0o600); err != nil {
			t.Fatal(err)
		}
		badTrack := mic
		badTrack.File = "bad.webm"
		_, err = Compose(context.Background(), Input{TrackDir: dir, Tracks: []domain.RecordedTrack{badTrack}}, out, nil)
		if err == nil {
			t.Fatal("a corrupt input composed")
		}
		t.Logf("corrupt input: %v", err)
		if strings.Contains(err.Error(), dir) {
			t.Errorf("the reason shows the server's directories: %v", err)
		}
		noFile(t)
		// A file ffprobe reads but ffmpeg cannot use: sound recorded as the camera.
		wrong := mic
		wrong.Kind, wrong.Source = "video", domain.SourceCamera
		_, err = Compose(context.Background(), Input{TrackDir: dir, Tracks: []domain.RecordedTrack{wrong}}, out, nil)
		if err == nil || !strings.Contains(err.Error(), "ffmpeg failed") {
			t.Fatalf("err = %v, want ffmpeg's failure", err)
		}
		t.Logf("unusable input: %v", err)
		noFile(t)
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		_, err := Compose(ctx, Input{TrackDir: dir, Tracks: []domain.RecordedTrack{mic}}, out, func(p float64) {
			if p > 0 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want cancelled", err)
		}
		noFile(t)
	})
	t.Run("nothing usable", func(t *testing.T) {
		gone := mic
		gone.File = "gone.webm"
		if _, err := Compose(context.Background(), Input{TrackDir: dir, Tracks: []domain.RecordedTrack{gone}}, out, nil); !errors.Is(err, ErrNoTracks) {
			t.Errorf("err = %v", err)
		}
	})
}

// TestComposeVideoWithoutSound: a session recorded with no microphone still gets a sound
// track (silence), so every player plays it the same way.
func TestComposeVideoWithoutSound(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	vp8(t, dir, "cam.webm", "testsrc2=s=320x240:r=15:d=3")
	out := filepath.Join(dir, "out.mp4")
	if _, err := (Composer{Threads: 1}).Compose(context.Background(), Input{TrackDir: dir, Tracks: []domain.RecordedTrack{
		{Segment: 1, Source: domain.SourceCamera, Kind: "video", File: "cam.webm", ClockRate: 90000, FirstAt: time.Now()},
	}}, out, nil); err != nil {
		t.Fatal(err)
	}
	p := ffprobe(t, out)
	if len(p.Streams) != 2 || p.Streams[0].CodecName != "h264" || p.Streams[1].CodecName != "aac" {
		t.Errorf("streams: %+v", p.Streams)
	}
	if d := seconds(t, p.Format.Duration); math.Abs(d-3) > 1 {
		t.Errorf("duration %.3f s, want 3 ± 1", d)
	}
}
