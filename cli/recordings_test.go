package cli

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/puente-org/puente/recording/storage"
)

func TestRecordingsS3URL(t *testing.T) {
	s, err := parseS3URL("https://AKIA123:s3cr%2Fet@s3.eu-west-2.example.org/puente-recordings?region=eu-west-2")
	if err != nil {
		t.Fatal(err)
	}
	if s.Endpoint != "s3.eu-west-2.example.org" || s.Bucket != "puente-recordings" || s.AccessKey != "AKIA123" ||
		s.SecretKey != "s3cr/et" || s.Region != "eu-west-2" || !s.TLS {
		t.Fatalf("parsed %+v", s)
	}
	s, err = parseS3URL("http://minio:minio123@127.0.0.1:9000/rec")
	if err != nil || s.TLS || s.Endpoint != "127.0.0.1:9000" || s.Bucket != "rec" {
		t.Fatalf("plain http: %+v %v", s, err)
	}
	for _, bad := range []string{"ftp://a:b@h/b", "https://h/b", "https://a@h/b", "https://a:b@h/", "https://a:b@h/b/c",
		"https://a:b@/b", "https://a:topsecret@h/b?tls=maybe"} {
		_, err := parseS3URL(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("the error repeats the secret: %v", err)
		}
	}
}

func TestOpenRecordings(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	st, err := openRecordings(ctx, config{DataDir: dir}, log)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := st.(*storage.Local); !ok || l.Root() != filepath.Join(dir, "recordings") {
		t.Fatalf("default storage: %T %+v", st, st)
	}
	backend := s3mem.New()
	ts := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(ts.Close)
	if err := backend.CreateBucket("rec"); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(ts.URL)
	s3, err := parseS3URL("http://ak:topsecret@" + u.Host + "/rec?region=us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	st, err = openRecordings(ctx, config{DataDir: dir, RecordingsS3: &s3}, slog.New(slog.NewTextHandler(&logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*storage.S3); !ok {
		t.Fatalf("S3 storage: %T", st)
	}
	if strings.Contains(logged.String(), "topsecret") || !strings.Contains(logged.String(), u.Host) {
		t.Errorf("log: %s", logged.String())
	}
	s3.Bucket = "missing"
	if _, err := openRecordings(ctx, config{DataDir: dir, RecordingsS3: &s3}, log); err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("a missing bucket: %v", err)
	}
}
