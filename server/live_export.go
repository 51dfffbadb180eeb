package server

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/puente-org/puente/store"
)

// chatCSV exports an occurrence's live-room chat for its organisers (docs/signaling.md §4).
func (s *Server) chatCSV(c echo.Context) error {
	l, err := s.managedOccurrence(c)
	if err != nil {
		return err
	}
	msgs, err := s.o.Store.ChatHistory(c.Request().Context(), l.Occurrence.ID, 0)
	if err != nil {
		return err
	}
	rows := make([][]string, 0, len(msgs))
	for _, m := range msgs {
		rows = append(rows, []string{m.At.UTC().Format(time.RFC3339), csvSafe(m.AuthorName), csvSafe(m.Text)})
	}
	return liveCSV(c, "chat-"+liveExportName(l), []string{"time", "author", "text"}, rows)
}

// questionsCSV exports an occurrence's live-room questions, in the order asked, for its
// organisers.
func (s *Server) questionsCSV(c echo.Context) error {
	l, err := s.managedOccurrence(c)
	if err != nil {
		return err
	}
	qs, err := s.o.Store.LiveQuestions(c.Request().Context(), l.Occurrence.ID)
	if err != nil {
		return err
	}
	rows := make([][]string, 0, len(qs))
	for _, q := range qs {
		rows = append(rows, []string{q.At.UTC().Format(time.RFC3339), csvSafe(q.AuthorName), csvSafe(q.Text),
			strconv.Itoa(q.Votes), q.State})
	}
	return liveCSV(c, "questions-"+liveExportName(l), []string{"time", "author", "text", "votes", "state"}, rows)
}

// liveExportName names an export after the event and the occurrence's local date.
func liveExportName(l store.Listed) string {
	return l.Event.Slug + "-" + l.Occurrence.StartLocal.Format("2006-01-02")
}

// liveCSV writes UTF-8 CSV as the registrations export does: a byte-order mark so that
// spreadsheets read accents right, RFC 4180 quoting, CRLF, never cached.
func liveCSV(c echo.Context, name string, header []string, rows [][]string) error {
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	_ = w.Write(header)
	_ = w.WriteAll(rows) // flushes
	if err := w.Error(); err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}
