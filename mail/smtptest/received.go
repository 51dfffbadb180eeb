package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
)

// Received is one message accepted by the server, with the parts tests
// usually assert on already decoded.
type Received struct {
	From     string   // envelope sender (MAIL FROM)
	To       []string // envelope recipients (RCPT TO)
	Data     []byte   // the message exactly as received, CRLF line ends
	AuthUser string   // user that authenticated the session, "" without AUTH
	TLS      bool     // whether the session was encrypted when DATA was sent

	Header  netmail.Header // top-level header fields, values not decoded
	Subject string         // RFC 2047-decoded Subject
	Text    string         // first text/plain part, transfer-decoded, LF line ends
	HTML    string         // first text/html part, transfer-decoded, LF line ends

	// ParseError is set when Data could not be parsed as a MIME message; the
	// envelope and Data are still filled in.
	ParseError error
}

// parse fills in everything but the envelope and session fields.
func parse(raw []byte) Received {
	rec := Received{Data: raw}
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		rec.ParseError = fmt.Errorf("reading message: %w", err)
		return rec
	}
	rec.Header = msg.Header
	var dec mime.WordDecoder
	if rec.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		rec.ParseError = fmt.Errorf("decoding subject: %w", err)
		return rec
	}
	err = rec.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	if err != nil {
		rec.ParseError = err
	}
	return rec
}

// walk descends into multipart bodies and keeps the first text/plain and
// text/html leaves.
func (rec *Received) walk(contentType, encoding string, body io.Reader) error {
	mediaType, params := "text/plain", map[string]string{} // RFC 2045 default
	if contentType != "" {
		var err error
		if mediaType, params, err = mime.ParseMediaType(contentType); err != nil {
			return fmt.Errorf("content type %q: %w", contentType, err)
		}
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// Raw parts: NextPart would silently decode quoted-printable but not
			// base64; decoding both here treats them alike.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			if err := rec.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	var target *string
	switch mediaType {
	case "text/plain":
		target = &rec.Text
	case "text/html":
		target = &rec.HTML
	default:
		return nil
	}
	if *target != "" {
		return nil
	}
	data, err := io.ReadAll(decodeTransfer(encoding, body))
	if err != nil {
		return fmt.Errorf("decoding %s body (%s): %w", mediaType, encoding, err)
	}
	*target = strings.ReplaceAll(string(data), "\r\n", "\n")
	return nil
}

func decodeTransfer(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r) // skips line breaks
	default: // 7bit, 8bit, binary
		return r
	}
}
