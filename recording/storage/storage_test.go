package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/puente-org/puente/recording/storage"
)

// conformance runs the same checks against any Storage.
func conformance(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	data := make([]byte, 300_000)
	_, _ = rand.Read(data)
	key := "recordings/12/session.mp4"

	t.Run("not found", func(t *testing.T) {
		if _, err := s.Stat(ctx, "recordings/none.mp4"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Stat of nothing: %v, want ErrNotFound", err)
		}
		if _, _, err := s.Open(ctx, "recordings/none.mp4", 0, -1); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Open of nothing: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "recordings/none.mp4"); err != nil {
			t.Fatalf("Delete of nothing: %v", err)
		}
	})
	t.Run("put and stat", func(t *testing.T) {
		if err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), "video/mp4"); err != nil {
			t.Fatal(err)
		}
		o, err := s.Stat(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if o.Size != int64(len(data)) || o.ContentType != "video/mp4" || o.ETag == "" || o.ModTime.IsZero() {
			t.Fatalf("Stat = %+v", o)
		}
	})
	t.Run("open ranges", func(t *testing.T) {
		for _, r := range []struct{ off, n int64 }{{0, -1}, {100, 100}, {0, 1}, {299_999, 1}, {150_000, -1}, {300_000, -1}, {299_990, 50}} {
			rc, o, err := s.Open(ctx, key, r.off, r.n)
			if err != nil {
				t.Fatalf("Open(%d, %d): %v", r.off, r.n, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("read (%d, %d): %v", r.off, r.n, err)
			}
			end := int64(len(data))
			if r.n >= 0 && r.off+r.n < end {
				end = r.off + r.n
			}
			if !bytes.Equal(got, data[r.off:end]) {
				t.Fatalf("Open(%d, %d): %d bytes, not bytes %d..%d of the object", r.off, r.n, len(got), r.off, end)
			}
			if o.Size != int64(len(data)) {
				t.Fatalf("Open described size %d", o.Size)
			}
		}
		if _, _, err := s.Open(ctx, key, 300_001, 1); err == nil {
			t.Fatal("Open past the end succeeded")
		}
	})
	t.Run("replace", func(t *testing.T) {
		before, _ := s.Stat(ctx, key)
		other := bytes.Repeat([]byte("x"), 1234)
		if err := s.Put(ctx, key, bytes.NewReader(other), int64(len(other)), "video/mp4"); err != nil {
			t.Fatal(err)
		}
		rc, o, err := s.Open(ctx, key, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, other) || o.Size != 1234 {
			t.Fatalf("after replace: %d bytes, size %d", len(got), o.Size)
		}
		if o.ETag == before.ETag {
			t.Fatalf("ETag unchanged after replace: %s", o.ETag)
		}
	})
	t.Run("failed put keeps the old object", func(t *testing.T) {
		// a reader that fails half way
		r := io.MultiReader(bytes.NewReader(data[:1000]), errReader{})
		if err := s.Put(ctx, key, r, int64(len(data)), "video/mp4"); err == nil {
			t.Fatal("Put from a failing reader succeeded")
		}
		o, err := s.Stat(ctx, key)
		if err != nil || o.Size != 1234 {
			t.Fatalf("after a failed put: %+v, %v; want the previous 1234-byte object", o, err)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := s.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Stat after delete: %v", err)
		}
	})
	t.Run("bad keys", func(t *testing.T) {
		for _, k := range []string{"", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/.", `a\..\b`, "a/..", "a\x00b"} {
			if err := s.Put(ctx, k, strings.NewReader("x"), 1, "text/plain"); !errors.Is(err, storage.ErrBadKey) {
				t.Errorf("Put(%q): %v, want ErrBadKey", k, err)
			}
			if _, err := s.Stat(ctx, k); !errors.Is(err, storage.ErrBadKey) {
				t.Errorf("Stat(%q): %v, want ErrBadKey", k, err)
			}
			if _, _, err := s.Open(ctx, k, 0, -1); !errors.Is(err, storage.ErrBadKey) {
				t.Errorf("Open(%q): %v, want ErrBadKey", k, err)
			}
			if err := s.Delete(ctx, k); !errors.Is(err, storage.ErrBadKey) {
				t.Errorf("Delete(%q): %v, want ErrBadKey", k, err)
			}
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk unplugged") }

func TestLocalConformance(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "recordings")
	s, err := storage.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	// a file beside the root that a bad key would reach
	if err := os.WriteFile(filepath.Join(dir, "x"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	conformance(t, s)
	// no temporary files left behind by the failed put
	var left []string
	_ = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Fatalf("files left under the root: %v", left)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "x")); string(b) != "secret" {
		t.Fatal("the file beside the root was changed")
	}
}

func TestS3Conformance(t *testing.T) {
	backend := s3mem.New()
	ts := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(ts.Close)
	if err := backend.CreateBucket("puente"); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(ts.URL)
	s, err := storage.NewS3(storage.S3Config{Endpoint: u.Host, Bucket: "puente", AccessKey: "ak", SecretKey: "sk-secret", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	conformance(t, s)

	missing, err := storage.NewS3(storage.S3Config{Endpoint: u.Host, Bucket: "nobucket", AccessKey: "ak", SecretKey: "sk", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := missing.Check(context.Background()); err == nil {
		t.Fatal("Check of a missing bucket succeeded")
	}
	if strings.Contains((storage.S3Config{SecretKey: "sk-secret"}).String(), "sk-secret") {
		t.Fatal("the configuration's description shows its secret")
	}
}
