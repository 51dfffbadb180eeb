package server_test

import (
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// smtptestParts walks a MIME message and returns each leaf part's decoded body by content type.
func smtptestParts(raw string) (map[string]string, error) {
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var walk func(ct string, enc string, r io.Reader) error
	walk = func(ct, enc string, r io.Reader) error {
		media, params, err := mime.ParseMediaType(ct)
		if err != nil {
			return err
		}
		if strings.HasPrefix(media, "multipart/") {
			mr := multipart.NewReader(r, params["boundary"])
			for {
				part, err := mr.NextPart()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if err := walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part); err != nil {
					return err
				}
			}
		}
		switch strings.ToLower(enc) {
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, r)
		case "quoted-printable":
			r = quotedprintable.NewReader(r)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		out[media] = string(b)
		return nil
	}
	return out, walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
}
