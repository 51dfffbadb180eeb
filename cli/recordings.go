package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/puente-org/puente/recording/storage"
)

// recordingFlags holds the text of the recording storage settings until parse checks it.
type recordingFlags struct {
	dir, s3URL string
}

func (f *recordingFlags) targets(m map[string]*string) {
	m["recordings-dir"], m["recordings-s3-url"] = &f.dir, &f.s3URL
}

// parse fills c's recording storage settings: a directory (default <data dir>/recordings)
// or an S3-compatible store given as one URL, which carries its keys the way DATABASE_URL
// carries a password: https://ACCESS_KEY:SECRET_KEY@host[:port]/bucket?region=eu-west-1
// (http:// for a store without TLS).
func (f *recordingFlags) parse(c *config) error {
	c.RecordingsDir = strings.TrimSpace(f.dir)
	raw := strings.TrimSpace(f.s3URL)
	if raw == "" {
		return nil
	}
	s3, err := parseS3URL(raw)
	if err != nil {
		return err
	}
	c.RecordingsS3 = &s3
	return nil
}

// parseS3URL reads the S3 URL; its errors never repeat the URL (it holds a secret).
func parseS3URL(raw string) (storage.S3Config, error) {
	bad := func(why string) (storage.S3Config, error) {
		return storage.S3Config{}, usageError{"PUENTE_RECORDINGS_S3_URL / --recordings-s3-url " + why +
			"; the form is https://ACCESS_KEY:SECRET_KEY@host[:port]/bucket?region=REGION"}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("is not a URL")
	}
	var s storage.S3Config
	switch u.Scheme {
	case "https":
		s.TLS = true
	case "http":
	default:
		return bad("must start with https:// (or http:// for a store without TLS)")
	}
	if u.Host == "" {
		return bad("names no host")
	}
	s.Endpoint = u.Host
	s.Bucket = strings.Trim(u.Path, "/")
	if s.Bucket == "" || strings.Contains(s.Bucket, "/") {
		return bad("must name one bucket as its path")
	}
	if u.User == nil {
		return bad("carries no access key")
	}
	s.AccessKey = u.User.Username()
	s.SecretKey, _ = u.User.Password()
	if s.AccessKey == "" || s.SecretKey == "" {
		return bad("needs both the access key and the secret key")
	}
	q := u.Query()
	s.Region = q.Get("region")
	if v := q.Get("tls"); v != "" { // an explicit tls=false/true wins over the scheme
		if s.TLS, err = strconv.ParseBool(v); err != nil {
			return bad("has tls= that is neither true nor false")
		}
	}
	return s, nil
}

// openRecordings opens the storage for composed recordings: S3 when configured (checking
// the bucket exists), otherwise a directory.
func openRecordings(ctx context.Context, c config, log *slog.Logger) (storage.Storage, error) {
	if c.RecordingsS3 != nil {
		s, err := storage.NewS3(*c.RecordingsS3)
		if err != nil {
			return nil, err
		}
		if err := s.Check(ctx); err != nil {
			return nil, fmt.Errorf("recordings storage: %w", err)
		}
		log.Info("recordings stored in S3", "store", c.RecordingsS3.String())
		return s, nil
	}
	dir := c.RecordingsDir
	if dir == "" {
		dir = filepath.Join(c.DataDir, "recordings")
	}
	s, err := storage.NewLocal(dir)
	if err != nil {
		return nil, err
	}
	log.Info("recordings stored on disk", "dir", s.Root())
	return s, nil
}
