package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where an S3-compatible store is and how to sign in to it.
type S3Config struct {
	Endpoint  string // host[:port], without a scheme
	Bucket    string
	AccessKey string
	SecretKey string // never logged
	Region    string // "" lets the client ask the store
	TLS       bool   // https (false: plain http, for a store on the same machine)
	// Transport, when set, carries the requests (tests); otherwise the client's default.
	Transport http.RoundTripper
}

// String describes the configuration without its secret.
func (c S3Config) String() string {
	scheme := "http"
	if c.TLS {
		scheme = "https"
	}
	return fmt.Sprintf("s3 %s://%s/%s (region %q)", scheme, c.Endpoint, c.Bucket, c.Region)
}

// S3 keeps objects in a bucket of an S3-compatible store. S3's PUT is atomic: a failed or
// cut-off upload leaves the previous object (or none) under the key.
type S3 struct {
	client *minio.Client
	bucket string
}

// NewS3 connects to the store (no request is made until the first use).
func NewS3(c S3Config) (*S3, error) {
	if c.Endpoint == "" || c.Bucket == "" {
		return nil, errors.New("storage: S3 needs an endpoint and a bucket")
	}
	cl, err := minio.New(c.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure:       c.TLS,
		Region:       c.Region,
		BucketLookup: minio.BucketLookupPath,
		Transport:    c.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("storage: %s: %w", c, err)
	}
	return &S3{client: cl, bucket: c.Bucket}, nil
}

// Check makes sure the bucket exists (at start, so a wrong setting shows at once).
func (s *S3) Check(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("storage: bucket %s: %w", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("storage: bucket %s does not exist", s.bucket)
	}
	return nil
}

func notFound(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NotFound" || minio.ToErrorResponse(err).StatusCode == http.StatusNotFound
}

func objectOf(info minio.ObjectInfo) Object {
	etag := info.ETag
	if etag != "" && etag[0] != '"' {
		etag = `"` + etag + `"`
	}
	ct := info.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	return Object{Key: info.Key, Size: info.Size, ContentType: ct, ModTime: info.LastModified, ETag: etag}
}

// Put uploads r (size bytes) under key.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	k, err := CleanKey(key)
	if err != nil {
		return err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	info, err := s.client.PutObject(ctx, s.bucket, k, r, size, minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	if size >= 0 && info.Size != size {
		_ = s.Delete(ctx, key)
		return fmt.Errorf("storage: put %s: stored %d bytes, expected %d", key, info.Size, size)
	}
	return nil
}

// Stat describes the object under key.
func (s *S3) Stat(ctx context.Context, key string) (Object, error) {
	k, err := CleanKey(key)
	if err != nil {
		return Object{}, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, k, minio.StatObjectOptions{})
	if notFound(err) {
		return Object{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return Object{}, fmt.Errorf("storage: stat %s: %w", key, err)
	}
	return objectOf(info), nil
}

// Open reads length bytes from offset (length < 0: to the end). The object is described
// by a Stat first, so a range outside it is refused here rather than by the store.
func (s *S3) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, Object, error) {
	o, err := s.Stat(ctx, key)
	if err != nil {
		return nil, o, err
	}
	if offset < 0 || offset > o.Size {
		return nil, o, fmt.Errorf("storage: open %s: offset %d outside 0..%d", key, offset, o.Size)
	}
	if length < 0 || offset+length > o.Size {
		length = o.Size - offset
	}
	if length == 0 {
		return io.NopCloser(bytes.NewReader(nil)), o, nil
	}
	opts := minio.GetObjectOptions{}
	if offset != 0 || length != o.Size {
		if err := opts.SetRange(offset, offset+length-1); err != nil {
			return nil, o, fmt.Errorf("storage: open %s: %w", key, err)
		}
	}
	// Only the version just described is read: a replacement in between fails the read
	// instead of splicing two files.
	if o.ETag != "" {
		if err := opts.SetMatchETag(trimQuotes(o.ETag)); err != nil {
			return nil, o, fmt.Errorf("storage: open %s: %w", key, err)
		}
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return nil, o, fmt.Errorf("storage: open %s: %w", key, err)
	}
	return obj, o, nil
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// Delete removes the object under key; deleting nothing is not an error.
func (s *S3) Delete(ctx context.Context, key string) error {
	k, err := CleanKey(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, k, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
		return fmt.Errorf("storage: delete %s: %w", key, err)
	}
	return nil
}
