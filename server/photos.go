package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/photo"
)

// photoUpload matches the path of a speaker photo upload, whose body may be larger than
// other requests' (limitBody).
func photoUpload(path string) bool {
	return strings.HasPrefix(path, "/organise/occurrences/") && strings.HasSuffix(path, "/photo")
}

// speakerPhoto serves a speaker's photo by its unguessable key (so the photos of unlisted
// events cannot be found by counting). A photo is never changed (a new upload is a new
// photo with a new key), so browsers and proxies may keep it for a year.
func (s *Server) speakerPhoto(c echo.Context) error {
	key := c.Param("key")
	if !photoKeyShape(key) {
		return echo.ErrNotFound
	}
	p, err := s.o.Store.SpeakerPhotoByKey(c.Request().Context(), key)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	etag := `"` + p.Digest + `"`
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	if c.Request().Header.Get("If-None-Match") == etag {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, "image/jpeg", p.JPEG)
}

// photoKeyShape tells whether a path segment can be a photo key (URL-safe base64, as
// domain.NewPhotoKey makes, or the hex of keys given by the migration), so that other
// text never reaches the database.
func photoKeyShape(key string) bool {
	if len(key) < 16 || len(key) > 64 {
		return false
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// speakerPosition reads the speaker's number in the path (0-based).
func speakerPosition(c echo.Context) (int, error) {
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 0 || n >= maxFormSpeakers {
		return 0, domain.Invalid("photo", "err.photo.no_speaker", "N", c.Param("n"))
	}
	return n, nil
}

// uploadSpeakerPhoto takes a photo for one speaker from the occurrence form (multipart,
// field "photo"); the app checks that the person organises the event.
func (s *Server) uploadSpeakerPhoto(c echo.Context) error {
	return s.changeSpeakerPhoto(c, false)
}

// removeSpeakerPhoto removes a speaker's photo.
func (s *Server) removeSpeakerPhoto(c echo.Context) error {
	return s.changeSpeakerPhoto(c, true)
}

func (s *Server) changeSpeakerPhoto(c echo.Context, remove bool) error {
	l, err := s.managedOccurrence(c)
	if err != nil {
		return err
	}
	n, err := speakerPosition(c)
	if err != nil {
		return s.refusePhoto(c, err)
	}
	var data []byte
	if !remove {
		fh, err := c.FormFile("photo")
		if err != nil {
			return s.refusePhoto(c, domain.Invalid("photo", "err.photo.missing"))
		}
		if fh.Size > photo.MaxBytes {
			return s.refusePhoto(c, photo.TooLarge())
		}
		f, err := fh.Open()
		if err != nil {
			return s.refusePhoto(c, domain.Invalid("photo", "err.photo.missing"))
		}
		defer f.Close()
		if data, err = photo.Read(f); err != nil {
			return s.refusePhoto(c, err)
		}
	}
	if err := s.app.SetSpeakerPhoto(c.Request().Context(), actor(c), l.Occurrence.ID, n, data); err != nil {
		return s.refusePhoto(c, err)
	}
	if remove {
		s.flash(c, "speaker.photo_removed")
	} else {
		s.flash(c, "speaker.photo_saved")
	}
	return c.Redirect(http.StatusSeeOther, "/organise/occurrences/"+itoa(l.Occurrence.ID)+"#speaker-"+strconv.Itoa(n))
}

// refusePhoto shows the occurrence form again with the reason a photo was refused (with
// the error's own status: 400, or 413 for a file too large); other errors go to the
// error page.
func (s *Server) refusePhoto(c echo.Context, err error) error {
	de, ok := domain.AsError(err)
	if !ok || (de.Code != domain.CodeInvalid && de.Code != domain.CodeTooLarge) {
		return err
	}
	l, lerr := s.managedOccurrence(c)
	if lerr != nil {
		return lerr
	}
	f, ferr := s.occurrenceFormFor(c, l)
	if ferr != nil {
		return ferr
	}
	f.Error, f.Field = s.localize(c, de), "photo"
	f.PhotoRow = c.Param("n")
	return s.render(c, statusOf[de.Code], "occurrence_form.html", f)
}
