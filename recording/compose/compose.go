// Package compose turns a recording's per-track files into one MP4 a person can watch:
// the screen share large with the speaker's camera small in a corner, the camera full
// frame when nothing was shared, black with the sound when neither; every microphone
// mixed; the Q&A's questions as chapters; the session's title, speakers and date in the
// file. It runs ffmpeg (Debian's package) and never decodes media itself.
//
// Tracks are placed on one timeline by when their first sample was captured: the RTP
// timestamp of that sample mapped to wall-clock time through the sender report (the
// sender's own clock, the same for its audio and video, so lip sync holds), else the time
// the first sample arrived. A server restart starts a new segment; segments follow one
// another in the output.
package compose

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/puente-org/puente/domain"
)

// DefaultFFmpeg is where Debian's package installs ffmpeg.
const DefaultFFmpeg = "/usr/bin/ffmpeg"

// The output frame and the camera's inset in it.
const (
	width, height   = 1280, 720
	insetW, insetH  = 320, 180
	insetMargin     = 24
	frameRate       = 30
	audioSampleRate = 48000
)

// ErrFFmpegMissing means the ffmpeg (or ffprobe) program configured is not there.
var ErrFFmpegMissing = errors.New("ffmpeg not found")

// errFFmpeg marks ffmpeg or ffprobe refusing the input.
var errFFmpeg = errors.New("ffmpeg failed")

// ErrNoTracks means the recording has no track file that can be used.
var ErrNoTracks = errors.New("no recorded tracks to compose")

// Meta is the session's description written into the file.
type Meta struct {
	Title    string
	Series   string
	Speakers string // names, comma separated
	Date     string // e.g. 2026-03-05
	Language string // the session's language (ISO 639-1, e.g. "en")
}

// Input is what to compose: the per-track files (relative to TrackDir), the chapters
// (times from the recording's start) and the metadata.
type Input struct {
	TrackDir string
	Tracks   []domain.RecordedTrack
	Chapters []domain.RecordingChapter
	Meta     Meta
	// Start is when the recording started. When set, chapters are placed by the wall
	// clock: the time lost between segments (a restart) is skipped in the output, and a
	// question asked then starts the next segment. Zero: chapter times are used as given.
	Start time.Time
}

// Result describes the composed file.
type Result struct {
	Duration time.Duration
	Bytes    int64
	Segments int
	Chapters int
}

// Composer runs ffmpeg. The zero value uses /usr/bin/ffmpeg (and the ffprobe beside it)
// with two threads.
type Composer struct {
	FFmpeg  string // path of ffmpeg; "" is DefaultFFmpeg
	FFprobe string // path of ffprobe; "" is the ffprobe beside FFmpeg
	Setting string // the setting that names FFmpeg, for error messages (e.g. "PUENTE_FFMPEG")
	Threads int    // encoder and filter threads; 0 is 2
	Logger  *slog.Logger
}

// Compose composes with the default Composer.
func Compose(ctx context.Context, in Input, outPath string, progress func(float64)) (Result, error) {
	return Composer{}.Compose(ctx, in, outPath, progress)
}

func (c Composer) ffmpeg() string {
	if c.FFmpeg == "" {
		return DefaultFFmpeg
	}
	return c.FFmpeg
}

func (c Composer) ffprobe() string {
	if c.FFprobe != "" {
		return c.FFprobe
	}
	return filepath.Join(filepath.Dir(c.ffmpeg()), "ffprobe")
}

func (c Composer) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Check reports whether ffmpeg and ffprobe are there and can run.
func (c Composer) Check() error {
	setting := c.Setting
	if setting == "" {
		setting = "the ffmpeg path"
	}
	for _, p := range []string{c.ffmpeg(), c.ffprobe()} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%w: %s is not an executable program (set %s, or install Debian's ffmpeg package): %w",
				ErrFFmpegMissing, p, setting, err)
		}
	}
	return nil
}

// placed is a track with its place on the segment's timeline.
type placed struct {
	domain.RecordedTrack
	path   string
	offset time.Duration // from the segment's start
	length time.Duration
}

// segment is the tracks of one segment, placed.
type segment struct {
	number int
	origin time.Time // when its first track started
	tracks []placed
	length time.Duration
}

// Compose writes the MP4 to outPath. It writes outPath+".partial" and renames it only when
// ffmpeg succeeded, so a failed or cancelled run leaves no file at outPath. progress, if
// not nil, is called with the share done (0 to 1) as ffmpeg reports it.
func (c Composer) Compose(ctx context.Context, in Input, outPath string, progress func(float64)) (Result, error) {
	if err := c.Check(); err != nil {
		return Result{}, err
	}
	segs, err := c.plan(ctx, in)
	if err != nil {
		return Result{}, err
	}
	var total time.Duration
	for _, s := range segs {
		total += s.length
	}
	work, err := os.MkdirTemp(filepath.Dir(outPath), ".compose-")
	if err != nil {
		return Result{}, fmt.Errorf("compose: work directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(work) }()
	metaFile := filepath.Join(work, "metadata.txt")
	chapters := clipChapters(placeChapters(in.Chapters, in.Start, segs), total)
	if len(chapters) > 0 && chapters[0].At > 0 {
		// An MP4 chapter track starts at zero: the time before the first question is the talk.
		title := in.Meta.Title
		if title == "" {
			title = "—"
		}
		chapters = append([]domain.RecordingChapter{{At: 0, Title: title}}, chapters...)
	}
	if err := os.WriteFile(metaFile, []byte(ffmetadata(in.Meta, chapters, total)), 0o600); err != nil {
		return Result{}, fmt.Errorf("compose: metadata: %w", err)
	}
	partial := outPath + ".partial"
	_ = os.Remove(partial)
	args := c.args(segs, metaFile, in.Meta, partial)
	c.logger().DebugContext(ctx, "compose: running ffmpeg", "args", strings.Join(args, " "))
	if err := c.run(ctx, args, total, progress, in.TrackDir); err != nil {
		_ = os.Remove(partial)
		return Result{}, err
	}
	fi, err := os.Stat(partial)
	if err != nil {
		return Result{}, fmt.Errorf("compose: ffmpeg wrote nothing: %w", err)
	}
	if err := os.Rename(partial, outPath); err != nil {
		_ = os.Remove(partial)
		return Result{}, fmt.Errorf("compose: %w", err)
	}
	if progress != nil {
		progress(1)
	}
	return Result{Duration: total, Bytes: fi.Size(), Segments: len(segs), Chapters: len(chapters)}, nil
}

// start is when a track's first sample was captured, on the sender's clock when a sender
// report maps its RTP time, else by its arrival.
func start(t domain.RecordedTrack) time.Time {
	if t.SRRTP != nil && t.SRNTP != nil && t.ClockRate > 0 {
		// int32: RTP time wraps; the first sample is near the report either way.
		ticks := int64(int32(t.FirstRTP - *t.SRRTP))
		return t.SRNTP.Add(time.Duration(ticks * int64(time.Second) / int64(t.ClockRate)))
	}
	return t.FirstAt
}

// plan groups the usable tracks by segment and places each on its segment's timeline.
func (c Composer) plan(ctx context.Context, in Input) ([]segment, error) {
	bySeg := map[int][]placed{}
	for _, t := range in.Tracks {
		if t.File == "" || (t.Kind != "audio" && t.Kind != "video") {
			continue
		}
		p := placed{RecordedTrack: t, path: filepath.Join(in.TrackDir, filepath.FromSlash(t.File))}
		if _, err := os.Stat(p.path); err != nil {
			c.logger().WarnContext(ctx, "compose: track file missing, left out", "track", t.ID, "file", t.File, "err", err)
			continue
		}
		d, err := c.probeDuration(ctx, p.path)
		if err != nil {
			return nil, err
		}
		p.length = max(d, t.Duration)
		if p.length <= 0 {
			c.logger().WarnContext(ctx, "compose: empty track left out", "track", t.ID, "file", t.File)
			continue
		}
		bySeg[t.Segment] = append(bySeg[t.Segment], p)
	}
	if len(bySeg) == 0 {
		return nil, ErrNoTracks
	}
	var segs []segment
	for n, ts := range bySeg {
		origin := start(ts[0].RecordedTrack)
		for _, t := range ts[1:] {
			if s := start(t.RecordedTrack); s.Before(origin) {
				origin = s
			}
		}
		s := segment{number: n, origin: origin}
		for _, t := range ts {
			t.offset = start(t.RecordedTrack).Sub(origin)
			s.length = max(s.length, t.offset+t.length)
			s.tracks = append(s.tracks, t)
		}
		sort.SliceStable(s.tracks, func(i, j int) bool { return s.tracks[i].offset < s.tracks[j].offset })
		segs = append(segs, s)
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].number < segs[j].number })
	return segs, nil
}

// probeDuration asks ffprobe how long a file plays (a file cut short by a crash may have no
// duration in its header: ffprobe then reads it through).
func (c Composer) probeDuration(ctx context.Context, path string) (time.Duration, error) {
	out, err := exec.CommandContext(ctx, c.ffprobe(), "-v", "error", "-show_entries", "format=duration",
		"-of", "default=noprint_wrappers=1:nokey=1", path).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			msg := strings.ReplaceAll(lastLine(string(ee.Stderr)), path, filepath.Base(path))
			return 0, fmt.Errorf("compose: ffprobe cannot read %s: %s: %w: %w", filepath.Base(path), msg, errFFmpeg, err)
		}
		return 0, fmt.Errorf("compose: ffprobe %s: %w", filepath.Base(path), err)
	}
	s := strings.TrimSpace(string(out))
	if s == "" || s == "N/A" {
		out, err = exec.CommandContext(ctx, c.ffprobe(), "-v", "error", "-show_entries", "packet=pts_time,duration_time",
			"-of", "csv=p=0", path).Output()
		if err != nil {
			return 0, fmt.Errorf("compose: ffprobe %s: %w", filepath.Base(path), err)
		}
		var last float64
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Split(line, ",")
			pts, _ := strconv.ParseFloat(f[0], 64)
			var d float64
			if len(f) > 1 {
				d, _ = strconv.ParseFloat(f[1], 64)
			}
			last = max(last, pts+d)
		}
		return time.Duration(last * float64(time.Second)), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("compose: ffprobe %s: duration %q: %w", filepath.Base(path), s, err)
	}
	return time.Duration(f * float64(time.Second)), nil
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// args builds ffmpeg's command line: every track an input, one filter graph per segment,
// the segments concatenated, the metadata file last.
func (c Composer) args(segs []segment, metaFile string, meta Meta, out string) []string {
	threads := c.Threads
	if threads <= 0 {
		threads = 2
	}
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:1",
		"-filter_complex_threads", strconv.Itoa(threads)}
	var graph []string
	input := 0
	for si, s := range segs {
		var screens, cameras, mics []string
		hasScreen := false
		for _, t := range s.tracks {
			hasScreen = hasScreen || (t.Kind == "video" && t.Source == domain.SourceScreen)
		}
		for _, t := range s.tracks {
			// One decoding thread per track: the encoder has the threads.
			args = append(args, "-threads", "1", "-i", t.path)
			in := strconv.Itoa(input)
			input++
			label := fmt.Sprintf("s%dt%d", si, input)
			off := secs(t.offset)
			if t.Kind == "audio" {
				graph = append(graph, fmt.Sprintf("[%s:a]asetpts=PTS-STARTPTS,aresample=%d:async=1,aformat=channel_layouts=stereo,adelay=%d:all=1[%s]",
					in, audioSampleRate, t.offset.Milliseconds(), label))
				mics = append(mics, label)
				continue
			}
			// Full frame for screens and lone cameras, the inset for a camera beside a screen.
			w, h := width, height
			if hasScreen && t.Source != domain.SourceScreen {
				w, h = insetW, insetH
			}
			graph = append(graph, fmt.Sprintf("[%s:v]setpts=PTS-STARTPTS+%s/TB,fps=%d,scale=%d:%d:force_original_aspect_ratio=decrease,setsar=1,format=yuv420p[%s]",
				in, off, frameRate, w, h, label))
			switch t.Source {
			case domain.SourceScreen:
				screens = append(screens, label)
			default:
				cameras = append(cameras, label)
			}
		}
		dur := secs(s.length)
		// The background sets the segment's length; overlays end with their track.
		graph = append(graph, fmt.Sprintf("color=c=black:s=%dx%d:r=%d:d=%s,format=yuv420p[s%dbg]", width, height, frameRate, dur, si))
		base := fmt.Sprintf("s%dbg", si)
		full, small := screens, cameras
		if len(screens) == 0 {
			full, small = cameras, nil
		}
		n := 0
		over := func(label, x, y string) {
			n++
			next := fmt.Sprintf("s%dv%d", si, n)
			graph = append(graph, fmt.Sprintf("[%s][%s]overlay=x=%s:y=%s:eof_action=pass:repeatlast=0[%s]", base, label, x, y, next))
			base = next
		}
		for _, l := range full {
			over(l, "(W-w)/2", "(H-h)/2")
		}
		for _, l := range small {
			over(l, fmt.Sprintf("W-w-%d", insetMargin), fmt.Sprintf("H-h-%d", insetMargin))
		}
		graph = append(graph, fmt.Sprintf("[%s]null[s%dv]", base, si))
		if len(mics) == 0 {
			graph = append(graph, fmt.Sprintf("anullsrc=r=%d:cl=stereo,atrim=0:%s[s%da]", audioSampleRate, dur, si))
		} else {
			var ins string
			for _, l := range mics {
				ins += "[" + l + "]"
			}
			graph = append(graph, fmt.Sprintf("%samix=inputs=%d:duration=longest:normalize=0,apad=whole_dur=%s,atrim=0:%s,asetpts=PTS-STARTPTS[s%da]",
				ins, len(mics), dur, dur, si))
		}
	}
	var cat string
	for si := range segs {
		cat += fmt.Sprintf("[s%dv][s%da]", si, si)
	}
	graph = append(graph, fmt.Sprintf("%sconcat=n=%d:v=1:a=1[v][a]", cat, len(segs)))
	args = append(args, "-f", "ffmetadata", "-i", metaFile,
		"-filter_complex", strings.Join(graph, ";"),
		"-map", "[v]", "-map", "[a]",
		"-map_metadata", strconv.Itoa(input), "-map_chapters", strconv.Itoa(input),
		"-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "128k", "-ar", strconv.Itoa(audioSampleRate),
		"-threads", strconv.Itoa(threads),
		"-movflags", "+faststart")
	if lang := iso6392(meta.Language); lang != "" {
		args = append(args, "-metadata:s:a:0", "language="+lang)
	}
	return append(args, "-f", "mp4", "-y", out)
}

// run runs ffmpeg, reporting progress from its -progress output.
func (c Composer) run(ctx context.Context, args []string, total time.Duration, progress func(float64), trackDir string) error {
	cmd := exec.CommandContext(ctx, c.ffmpeg(), args...)
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 16 << 10}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("compose: start %s: %w", c.ffmpeg(), err)
	}
	// Live rooms share the machine: composing yields to forwarding.
	if err := lowerPriority(cmd.Process.Pid); err != nil {
		c.logger().DebugContext(ctx, "compose: ffmpeg keeps its priority", "err", err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || k != "out_time_us" || progress == nil || total <= 0 {
			continue
		}
		us, err := strconv.ParseInt(v, 10, 64)
		if err != nil || us < 0 {
			continue
		}
		progress(min(0.99, float64(us)/float64(total.Microseconds())))
	}
	_, _ = io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if ctx.Err() != nil {
		return fmt.Errorf("compose: %w", ctx.Err())
	}
	if err != nil {
		// The reason is shown to organisers: file names, not the server's directories.
		msg := lastLine(stderr.String())
		if trackDir != "" {
			msg = strings.ReplaceAll(msg, filepath.Clean(trackDir)+string(filepath.Separator), "")
		}
		return fmt.Errorf("compose: %w: %s: %w", errFFmpeg, msg, err)
	}
	return nil
}

// lastLine is the last non-empty line of ffmpeg's error output (the reason, usually).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			if len(l) > 300 {
				l = l[:300]
			}
			return l
		}
	}
	return "no message"
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	n := len(p)
	if l.n > 0 {
		q := p
		if len(q) > l.n {
			q = q[:l.n]
		}
		l.n -= len(q)
		_, _ = l.w.Write(q)
	}
	return n, nil
}

// placeChapters moves chapters from the recording's time to the output's, where segments
// follow one another without the gaps between them.
func placeChapters(in []domain.RecordingChapter, start time.Time, segs []segment) []domain.RecordingChapter {
	if start.IsZero() || len(segs) == 0 {
		return in
	}
	out := make([]domain.RecordingChapter, 0, len(in))
	for _, c := range in {
		wall := start.Add(c.At)
		var before time.Duration // output time of the segment's start
		at := time.Duration(-1)
		for _, s := range segs {
			switch {
			case wall.Before(s.origin):
				at = before // in the gap before this segment (or before the first)
			case wall.Before(s.origin.Add(s.length)):
				at = before + wall.Sub(s.origin)
			}
			if at >= 0 {
				break
			}
			before += s.length
		}
		if at < 0 {
			continue // after the last segment
		}
		out = append(out, domain.RecordingChapter{At: at, Title: c.Title})
	}
	return out
}

// clipChapters keeps the chapters inside the recording, in order.
func clipChapters(in []domain.RecordingChapter, total time.Duration) []domain.RecordingChapter {
	var out []domain.RecordingChapter
	for _, c := range in {
		if c.At < 0 || c.At >= total || strings.TrimSpace(c.Title) == "" {
			continue
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

// ffmetadata writes ffmpeg's metadata file: the session's description, and one chapter per
// question ending where the next begins.
func ffmetadata(m Meta, chapters []domain.RecordingChapter, total time.Duration) string {
	var b strings.Builder
	b.WriteString(";FFMETADATA1\n")
	kv := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			fmt.Fprintf(&b, "%s=%s\n", k, escapeMeta(v))
		}
	}
	kv("title", m.Title)
	kv("artist", m.Speakers)
	kv("album", m.Series)
	kv("date", m.Date)
	comment := m.Title
	if m.Series != "" {
		comment = m.Series + ": " + m.Title
	}
	if m.Speakers != "" {
		comment += " (" + m.Speakers + ")"
	}
	if m.Date != "" {
		comment += ", " + m.Date
	}
	kv("comment", "Recorded on Puente. "+comment)
	for i, c := range chapters {
		end := total
		if i+1 < len(chapters) {
			end = chapters[i+1].At
		}
		if end <= c.At {
			end = c.At + time.Millisecond
		}
		fmt.Fprintf(&b, "[CHAPTER]\nTIMEBASE=1/1000\nSTART=%d\nEND=%d\n", c.At.Milliseconds(), end.Milliseconds())
		kv("title", c.Title)
	}
	return b.String()
}

// escapeMeta escapes what FFMETADATA treats specially; a line break becomes a space.
func escapeMeta(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '=', ';', '#', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// iso6392 maps the languages Puente speaks to the codes MP4 stores.
func iso6392(lang string) string {
	switch strings.ToLower(strings.TrimSpace(lang)) {
	case "en":
		return "eng"
	case "es":
		return "spa"
	case "pt":
		return "por"
	case "fr":
		return "fra"
	case "de":
		return "deu"
	}
	return ""
}
