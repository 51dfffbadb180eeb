// Package photo turns an uploaded picture into the small JPEG a page shows: it refuses
// what is not a JPEG or PNG, too many bytes, or too many pixels (checked from the header,
// before anything is decoded, so a small file claiming a huge image costs nothing), and
// re-encodes the rest, which drops every piece of metadata (EXIF, with any GPS position,
// XMP, comments) once the EXIF orientation has been applied to the pixels.
package photo

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png" // PNG uploads are decoded too
	"io"

	"golang.org/x/image/draw"

	"github.com/puente-org/puente/domain"
)

// Limits on an upload.
const (
	MaxBytes  = 8 << 20    // bytes of the uploaded file
	MaxSide   = 8000       // pixels on either side
	MaxPixels = 40_000_000 // pixels in all (a 40-megapixel camera)
	Size      = 400        // the stored photo fits in Size×Size pixels
	quality   = 85
)

// Photo is a processed photo: a JPEG with no metadata.
type Photo struct {
	JPEG          []byte
	Width, Height int
}

// Read reads an upload of at most MaxBytes (one more byte is read to tell a file that is
// too large).
func Read(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, &domain.Error{Code: domain.CodeInvalid, ID: "err.photo.unreadable", Field: "photo", Err: err}
	}
	if len(data) > MaxBytes {
		return nil, TooLarge()
	}
	return data, nil
}

// TooLarge is the error for an upload over MaxBytes.
func TooLarge() error {
	e := domain.New(domain.CodeTooLarge, "err.photo.too_large", "MB", MaxBytes>>20)
	e.Field = "photo"
	return e
}

// Process checks an uploaded image and makes the stored photo from it.
func Process(data []byte) (Photo, error) {
	if len(data) > MaxBytes {
		return Photo{}, TooLarge()
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || (format != "jpeg" && format != "png") {
		return Photo{}, domain.Invalid("photo", "err.photo.not_image")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxSide || cfg.Height > MaxSide || cfg.Width*cfg.Height > MaxPixels {
		return Photo{}, domain.Invalid("photo", "err.photo.dimensions", "Width", cfg.Width, "Height", cfg.Height, "Max", MaxSide)
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return Photo{}, &domain.Error{Code: domain.CodeInvalid, ID: "err.photo.unreadable", Field: "photo", Err: err}
	}
	w, h := fit(src.Bounds().Dx(), src.Bounds().Dy(), Size)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	// A transparent PNG lies on white (JPEG has no transparency).
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Over, nil)
	if format == "jpeg" {
		// The EXIF orientation goes with the rest of the metadata: apply it first, so that
		// a portrait taken with a phone does not end up sideways.
		dst = orient(dst, orientation(data))
		w, h = dst.Bounds().Dx(), dst.Bounds().Dy()
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: quality}); err != nil {
		return Photo{}, fmt.Errorf("encode photo: %w", err)
	}
	return Photo{JPEG: out.Bytes(), Width: w, Height: h}, nil
}

// fit scales w×h down (never up) to fit in side×side, keeping the proportions.
func fit(w, h, side int) (int, int) {
	if w <= side && h <= side {
		return w, h
	}
	if w >= h {
		return side, max(1, h*side/w)
	}
	return max(1, w*side/h), side
}
