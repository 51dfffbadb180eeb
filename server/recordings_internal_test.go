package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/puente-org/puente/recording/storage"
)

// countingStorage counts the reads a served range makes.
type countingStorage struct {
	storage.Storage
	opens []int64 // the lengths asked
}

func (c *countingStorage) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, storage.Object, error) {
	c.opens = append(c.opens, length)
	return c.Storage.Open(ctx, key, offset, length)
}

// Ranges served through windows smaller than the file: exact bytes across window edges,
// and never more than a window asked of the storage at once.
func TestObjectReaderWindows(t *testing.T) {
	ctx := context.Background()
	local, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 10_000)
	_, _ = rand.Read(data)
	if err := local.Put(ctx, "a/b.mp4", bytes.NewReader(data), int64(len(data)), "video/mp4"); err != nil {
		t.Fatal(err)
	}
	for _, rg := range []struct {
		header     string
		start, end int
		status     int
	}{{"", 0, 9999, 200}, {"bytes=990-2010", 990, 2010, 206}, {"bytes=9000-", 9000, 9999, 206}, {"bytes=999-1000", 999, 1000, 206}} {
		st := &countingStorage{Storage: local}
		rs := &objectReader{ctx: ctx, st: st, key: "a/b.mp4", size: int64(len(data)), window: 1000}
		req := httptest.NewRequest("GET", "/x", nil)
		if rg.header != "" {
			req.Header.Set("Range", rg.header)
		}
		w := httptest.NewRecorder()
		http.ServeContent(w, req, "", time.Time{}, rs)
		rs.Close()
		if w.Code != rg.status || !bytes.Equal(w.Body.Bytes(), data[rg.start:rg.end+1]) {
			t.Errorf("%q: %d, %d bytes, want bytes %d-%d", rg.header, w.Code, w.Body.Len(), rg.start, rg.end)
		}
		for _, n := range st.opens {
			if n > 1000 || n <= 0 {
				t.Errorf("%q: asked the storage for %d bytes at once", rg.header, n)
			}
		}
	}
}

// A download longer than the server's write timeout goes on while bytes keep moving
// (without patientWriter this fails: the connection is cut after a second).
func TestPatientWriterOutlivesWriteTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{WriteTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &patientWriter{ResponseWriter: w, rc: http.NewResponseController(w)}
		for i := range 6 {
			if _, err := pw.Write(bytes.Repeat([]byte{byte('a' + i)}, 1000)); err != nil {
				return
			}
			_ = http.NewResponseController(w).Flush()
			time.Sleep(300 * time.Millisecond)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	res, err := http.Get("http://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || len(b) != 6000 {
		t.Fatalf("read %d bytes of 6000 (%v): cut off by the write timeout", len(b), err)
	}
}
