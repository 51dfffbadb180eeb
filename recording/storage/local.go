package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrBadKey refuses a key that is empty, absolute, or would leave the storage's root.
var ErrBadKey = errors.New("storage: bad key")

// CleanKey checks a key: slash-separated, relative, without "." or ".." elements, empty
// elements or backslashes, so it names a file under the root and nothing else.
func CleanKey(key string) (string, error) {
	if key == "" || len(key) > 1024 || strings.HasPrefix(key, "/") || strings.ContainsAny(key, "\\\x00") {
		return "", fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	for _, el := range strings.Split(key, "/") {
		if el == "" || el == "." || el == ".." {
			return "", fmt.Errorf("%w: %q", ErrBadKey, key)
		}
	}
	if path.Clean(key) != key {
		return "", fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	return key, nil
}

// Local keeps objects as files under a root directory.
type Local struct {
	root string
}

// NewLocal returns a storage rooted at dir, creating it if needed.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", abs, err)
	}
	return &Local{root: abs}, nil
}

// Root is the directory objects live under.
func (l *Local) Root() string { return l.root }

func (l *Local) file(key string) (string, error) {
	k, err := CleanKey(key)
	if err != nil {
		return "", err
	}
	p := filepath.Join(l.root, filepath.FromSlash(k))
	if rel, err := filepath.Rel(l.root, p); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	return p, nil
}

// Put writes to a temporary file beside the target, syncs it and renames it into place,
// so a reader sees the old object or the whole new one, never half of it.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	p, err := l.file(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+"."+hex.EncodeToString(rnd[:])+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("storage: put %s: wrote %d bytes, expected %d", key, n, size)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	ok = true
	return nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (l *Local) stat(key string) (string, Object, error) {
	p, err := l.file(key)
	if err != nil {
		return "", Object{}, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.IsDir()) {
		return "", Object{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return "", Object{}, fmt.Errorf("storage: stat %s: %w", key, err)
	}
	ct := mime.TypeByExtension(path.Ext(key))
	if ct == "" {
		ct = "application/octet-stream"
	}
	// The ETag changes whenever the file is replaced (a new file: new time or size).
	etag := `"` + strconv.FormatInt(fi.Size(), 16) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 16) + `"`
	return p, Object{Key: key, Size: fi.Size(), ContentType: ct, ModTime: fi.ModTime(), ETag: etag}, nil
}

// Stat describes the object under key.
func (l *Local) Stat(ctx context.Context, key string) (Object, error) {
	_, o, err := l.stat(key)
	return o, err
}

// Open reads length bytes from offset (length < 0: to the end).
func (l *Local) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, Object, error) {
	p, o, err := l.stat(key)
	if err != nil {
		return nil, o, err
	}
	if offset < 0 || offset > o.Size {
		return nil, o, fmt.Errorf("storage: open %s: offset %d outside 0..%d", key, offset, o.Size)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, o, fmt.Errorf("storage: open %s: %w", key, err)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, o, fmt.Errorf("storage: open %s: %w", key, err)
	}
	if length < 0 {
		return f, o, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, length), f}, o, nil
}

// Delete removes the object under key; deleting nothing is not an error.
func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.file(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: delete %s: %w", key, err)
	}
	return nil
}
