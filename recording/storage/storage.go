// Package storage keeps recordings' composed files: on local disk by default, or in any
// S3-compatible store. The web server reads them back by byte range (for seeking players
// and range requests), checking access before every byte.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned for a key that holds nothing.
var ErrNotFound = errors.New("storage: no such object")

// Object describes a stored file.
type Object struct {
	Key         string
	Size        int64
	ContentType string
	ModTime     time.Time
	ETag        string
}

// Storage is where composed recordings live. Keys are slash-separated relative paths
// ("recordings/12/session.mp4"); an implementation refuses keys that would leave its root.
type Storage interface {
	// Put stores r (size bytes) under key, replacing what was there; a failed Put leaves
	// no partial object under key.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Open reads length bytes from offset (length < 0: to the end).
	Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, Object, error)
	// Stat describes the object under key.
	Stat(ctx context.Context, key string) (Object, error)
	// Delete removes the object under key; deleting nothing is not an error.
	Delete(ctx context.Context, key string) error
}
