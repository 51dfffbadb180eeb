package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/app"
	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/recording/storage"
	"github.com/puente-org/puente/store"
)

// A session's recordings: the page (/occurrences/:id/recording), the file served by byte
// range with access checked on every request (/recordings/:id/file, and /download as an
// attachment), and the organisers' changes (access, replace, delete, the series'
// defaults and retention).

// recordingUpload reports whether a request is a replacement upload (a larger body).
func recordingUpload(path string) bool {
	return strings.HasPrefix(path, "/organise/recordings/") && strings.HasSuffix(path, "/replace")
}

type recordingChapter struct {
	Seconds float64
	Label   string // m:ss or h:mm:ss
	Title   string
}

type recordingItem struct {
	ID          int64
	Status      string
	StatusLabel string
	MayWatch    bool
	Progress    int // percent, while composing
	HasProgress bool
	Failure     string
	Access      string
	AccessLabel string
	Duration    string
	Chapters    []recordingChapter
}

type recordingPage struct {
	Occ       listedView
	Items     []recordingItem
	CanManage bool
	EventID   int64
	Accesses  []option
	Settings  store.RecordingSettings
	SignedIn  bool
}

// clock shows a time from a recording's start as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int64(d / time.Second)
	if s < 0 {
		s = 0
	}
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func (s *Server) recordingPage(c echo.Context) error {
	l, err := s.occurrenceFromPath(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	who := actor(c)
	recs, err := s.app.SessionRecordings(ctx, who, l)
	if err != nil {
		return err
	}
	loc := localizerOf(c)
	p := recordingPage{Occ: s.view(c, l), CanManage: app.Manages(who, l.Event), EventID: l.Event.ID, SignedIn: who.Person != nil}
	for _, a := range []domain.RecordingAccess{domain.RecordingPublic, domain.RecordingRegistrants, domain.RecordingOrganisers} {
		p.Accesses = append(p.Accesses, option{Code: string(a), Name: loc.T("recording.page.access_" + string(a))})
	}
	if p.CanManage {
		if p.Settings, err = s.app.RecordingSettings(ctx, who, l.Event.ID); err != nil {
			return err
		}
	}
	for _, r := range recs {
		it := recordingItem{ID: r.ID, Status: string(r.Status), StatusLabel: loc.T("recording.page.status_" + string(r.Status)),
			MayWatch: r.MayWatch, Access: string(r.Access), AccessLabel: loc.T("recording.page.access_" + string(r.Access)),
			Duration: clock(r.Duration)}
		if p.CanManage {
			it.Failure = r.Failure
		}
		if r.Status == domain.RecordingComposing || r.Status == domain.RecordingStopped {
			prog, ok, err := s.o.Store.RecordingProgress(ctx, r.ID)
			if err != nil {
				return err
			}
			it.Progress, it.HasProgress = int(prog*100+0.5), ok
		}
		if r.Status == domain.RecordingReady && r.MayWatch {
			chapters, err := s.o.Store.RecordingChapters(ctx, r.Recording)
			if err != nil {
				return err
			}
			for _, ch := range chapters {
				it.Chapters = append(it.Chapters, recordingChapter{Seconds: ch.At.Seconds(), Label: clock(ch.At), Title: ch.Title})
			}
		}
		p.Items = append(p.Items, it)
	}
	return s.render(c, http.StatusOK, "recording.html", p)
}

// recordingFile serves a recording's composed file, inline or (download) as an attachment.
// Every request, each range a seeking player asks for included, checks who may watch.
func (s *Server) recordingFile(download bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		w, err := s.app.WatchRecording(ctx, actor(c), id)
		if err != nil {
			return err
		}
		r := w.Recording
		st := s.app.Recordings()
		if r.Status != domain.RecordingReady || r.ComposedKey == "" || st == nil {
			return domain.New(domain.CodeNotFound, "err.recording.not_ready")
		}
		obj, err := st.Stat(ctx, r.ComposedKey)
		if err != nil {
			return err
		}
		h := c.Response().Header()
		if r.Access == domain.RecordingPublic {
			// Caches may keep it but must ask again: access can change.
			h.Set("Cache-Control", "public, no-cache")
		} else {
			h.Set("Cache-Control", "private, no-cache")
		}
		h.Set("Vary", "Cookie")
		h.Set("ETag", obj.ETag)
		h.Set("Content-Type", "video/mp4")
		h.Set("X-Content-Type-Options", "nosniff")
		name := recordingFileName(w.Listed, r)
		disposition := "inline"
		if download {
			disposition = "attachment"
		}
		h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": name}))
		// http.ServeContent answers ranges (206, several for a seeking player, 416 for one
		// outside the file, multipart for several in one request), If-Range and
		// If-None-Match against the ETag set above.
		rs := &objectReader{ctx: ctx, st: st, key: r.ComposedKey, size: obj.Size}
		defer rs.Close()
		http.ServeContent(&patientWriter{ResponseWriter: c.Response(), rc: http.NewResponseController(c.Response())},
			c.Request(), "", obj.ModTime, rs)
		return nil
	}
}

// stallLimit is how long a download or an upload may stall before it is cut off: the
// server's whole-request timeouts (60 s to write, 30 s to read) would cut off any long
// one, so these requests move their deadline on while bytes keep moving.
const stallLimit = time.Minute

// patientWriter moves the write deadline on at every write.
type patientWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (w *patientWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(stallLimit)) // not every writer has deadlines (tests)
	return w.ResponseWriter.Write(p)
}

// patientBody moves the read deadline on at every read of an upload.
type patientBody struct {
	io.ReadCloser
	rc *http.ResponseController
}

func (b *patientBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(stallLimit))
	return b.ReadCloser.Read(p)
}

// recordingFileName names a download after the session, in letters, digits and dashes.
func recordingFileName(l store.Listed, r domain.Recording) string {
	var b strings.Builder
	dash := false
	for _, ch := range strings.ToLower(occurrenceTitle(l)) {
		if ch < 128 && (ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9') {
			b.WriteRune(ch)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	base := strings.Trim(b.String(), "-")
	if base == "" {
		base = "recording"
	}
	return base + "-" + r.StartedAt.UTC().Format("2006-01-02") + ".mp4"
}

// objectReader reads a stored object as an io.ReadSeeker for http.ServeContent. It opens
// the storage at the position a read starts from, a window at a time, so a range costs
// the store at most one window more than was asked (S3 reads are ranged GETs).
type objectReader struct {
	ctx  context.Context
	st   storage.Storage
	key  string
	size int64
	pos  int64
	rc   io.ReadCloser
	// window is how much one storage read covers (objectWindow when 0); windowEnd is
	// where the open one ends.
	window, windowEnd int64
}

// objectWindow is how much one storage read covers.
const objectWindow = 8 << 20

func (o *objectReader) Read(p []byte) (int, error) {
	for {
		if o.pos >= o.size {
			return 0, io.EOF
		}
		if o.rc == nil {
			w := o.window
			if w <= 0 {
				w = objectWindow
			}
			w = min(w, o.size-o.pos)
			rc, _, err := o.st.Open(o.ctx, o.key, o.pos, w)
			if err != nil {
				return 0, err
			}
			o.rc, o.windowEnd = rc, o.pos+w
		}
		n, err := o.rc.Read(p)
		o.pos += int64(n)
		if err != io.EOF {
			return n, err
		}
		o.Close() // the window is done; the next read opens the next one
		if o.pos < o.windowEnd {
			return n, io.ErrUnexpectedEOF // the object is shorter than it said
		}
		if n > 0 || o.pos >= o.size {
			if o.pos >= o.size {
				return n, io.EOF
			}
			return n, nil
		}
	}
}

func (o *objectReader) Seek(offset int64, whence int) (int64, error) {
	var to int64
	switch whence {
	case io.SeekStart:
		to = offset
	case io.SeekCurrent:
		to = o.pos + offset
	case io.SeekEnd:
		to = o.size + offset
	}
	if to < 0 {
		return o.pos, errors.New("seek before the start")
	}
	if to != o.pos {
		o.Close()
		o.pos = to
	}
	return to, nil
}

func (o *objectReader) Close() error {
	if o.rc == nil {
		return nil
	}
	err := o.rc.Close()
	o.rc = nil
	return err
}

// recordingPath is the page a recording belongs to.
func recordingPath(occID int64) string { return "/occurrences/" + itoa(occID) + "/recording" }

func (s *Server) setRecordingAccessFromForm(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	_, l, err := s.app.ManageRecording(ctx, actor(c), id)
	if err != nil {
		return err
	}
	if err := s.app.SetRecordingAccess(ctx, actor(c), id, domain.RecordingAccess(c.FormValue("access"))); err != nil {
		return err
	}
	s.flash(c, "recording.page.access_saved")
	return c.Redirect(http.StatusSeeOther, recordingPath(l.Occurrence.ID))
}

func (s *Server) replaceRecordingFromForm(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	_, l, err := s.app.ManageRecording(ctx, actor(c), id)
	if err != nil {
		return err
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return domain.Invalid("file", "err.recording.missing_file")
	}
	f, err := fh.Open()
	if err != nil {
		return domain.Invalid("file", "err.recording.missing_file")
	}
	defer f.Close()
	if err := s.app.ReplaceRecording(ctx, actor(c), id, f); err != nil {
		return err
	}
	s.flash(c, "recording.page.replaced")
	return c.Redirect(http.StatusSeeOther, recordingPath(l.Occurrence.ID))
}

func (s *Server) deleteRecordingFromForm(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	_, l, err := s.app.ManageRecording(ctx, actor(c), id)
	if err != nil {
		return err
	}
	if c.FormValue("confirm") != "1" {
		loc := localizerOf(c)
		return s.confirmDelete(c, deleteConfirm{Title: loc.T("recording.page.delete_title", "Title", occurrenceTitle(l)),
			Action: "/organise/recordings/" + itoa(id) + "/delete", Back: recordingPath(l.Occurrence.ID),
			Warning: loc.T("recording.page.delete_warning"), Button: loc.T("recording.page.delete_button")})
	}
	if _, err := s.app.DeleteRecording(ctx, actor(c), id); err != nil {
		return err
	}
	s.flash(c, "recording.page.deleted")
	return c.Redirect(http.StatusSeeOther, recordingPath(l.Occurrence.ID))
}

func (s *Server) recordingSettingsFromForm(c echo.Context) error {
	e, err := s.managedEvent(c)
	if err != nil {
		return err
	}
	rs := store.RecordingSettings{Access: domain.RecordingAccess(c.FormValue("default_access"))}
	if v := strings.TrimSpace(c.FormValue("retention_days")); v != "" {
		if rs.RetentionDays, err = strconv.Atoi(v); err != nil {
			return domain.Invalid("retention_days", "err.recording.retention")
		}
	}
	if err := s.app.SetRecordingSettings(c.Request().Context(), actor(c), e.ID, rs); err != nil {
		return err
	}
	s.flash(c, "recording.page.settings_saved")
	back := c.FormValue("back")
	if !strings.HasPrefix(back, "/occurrences/") || strings.Contains(back, "//") {
		back = "/organise/events/" + itoa(e.ID)
	}
	return c.Redirect(http.StatusSeeOther, back)
}
