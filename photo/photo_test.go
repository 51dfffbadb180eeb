package photo

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// halves is a w×h picture, its left half red and its right half blue.
func halves(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{R: 220, A: 255}
			if x >= w/2 {
				c = color.RGBA{B: 220, A: 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// withOrientation is img as a JPEG whose EXIF says orientation o (big- or little-endian
// TIFF), as a phone writes it.
func withOrientation(t *testing.T, img image.Image, o uint16, bo binary.ByteOrder) []byte {
	t.Helper()
	var plain bytes.Buffer
	if err := jpeg.Encode(&plain, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	tiff := make([]byte, 8+2+12+4)
	if bo == binary.LittleEndian {
		copy(tiff, "II")
	} else {
		copy(tiff, "MM")
	}
	bo.PutUint16(tiff[2:], 42)
	bo.PutUint32(tiff[4:], 8)
	bo.PutUint16(tiff[8:], 1)       // one entry
	bo.PutUint16(tiff[10:], 0x0112) // Orientation
	bo.PutUint16(tiff[12:], 3)      // SHORT
	bo.PutUint32(tiff[14:], 1)      // one value
	bo.PutUint16(tiff[18:], o)
	app1 := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(app1)+2))
	b := plain.Bytes()
	out := append([]byte{}, b[:2]...)
	out = append(out, seg...)
	out = append(out, app1...)
	return append(out, b[2:]...)
}

// colourAt names the colour of the processed photo at (x, y): "red", "blue" or "other".
func colourAt(t *testing.T, p Photo, x, y int) string {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(p.JPEG))
	if err != nil {
		t.Fatal(err)
	}
	r, _, b, _ := img.At(x, y).RGBA()
	switch {
	case r > 0x9000 && b < 0x4000:
		return "red"
	case b > 0x9000 && r < 0x4000:
		return "blue"
	}
	return "other"
}

// TestOrientationApplied: a phone's EXIF orientation is applied before the metadata goes,
// so the stored photo is upright: a quarter turn swaps the sides and moves the left half
// to the top (6) or the bottom (8); upside down (3) and mirrored (2) put it on the right.
func TestOrientationApplied(t *testing.T) {
	src := halves(80, 40) // landscape as stored: red left, blue right
	for _, c := range []struct {
		o                 uint16
		bo                binary.ByteOrder
		w, h              int
		top, bottom       string // at the middle of the top and bottom edges
		leftMid, rightMid string // at the middle of the left and right edges
	}{
		{1, binary.LittleEndian, 80, 40, "", "", "red", "blue"},
		{2, binary.BigEndian, 80, 40, "", "", "blue", "red"},
		{3, binary.LittleEndian, 80, 40, "", "", "blue", "red"},
		{6, binary.BigEndian, 40, 80, "red", "blue", "", ""},
		{8, binary.LittleEndian, 40, 80, "blue", "red", "", ""},
		{5, binary.LittleEndian, 40, 80, "red", "blue", "", ""},
		{7, binary.BigEndian, 40, 80, "blue", "red", "", ""},
	} {
		p, err := Process(withOrientation(t, src, c.o, c.bo))
		if err != nil {
			t.Fatalf("orientation %d: %v", c.o, err)
		}
		if p.Width != c.w || p.Height != c.h {
			t.Errorf("orientation %d: %d×%d, want %d×%d", c.o, p.Width, p.Height, c.w, c.h)
			continue
		}
		check := func(where string, x, y int, want string) {
			if want != "" {
				if got := colourAt(t, p, x, y); got != want {
					t.Errorf("orientation %d: %s is %s, want %s", c.o, where, got, want)
				}
			}
		}
		check("the top", p.Width/2, 5, c.top)
		check("the bottom", p.Width/2, p.Height-6, c.bottom)
		check("the left", 5, p.Height/2, c.leftMid)
		check("the right", p.Width-6, p.Height/2, c.rightMid)
		if bytes.Contains(p.JPEG, []byte("Exif")) {
			t.Errorf("orientation %d: the stored photo still has EXIF", c.o)
		}
	}
}

// TestOrientationOfMalformedHeaders: headers that do not add up read as "as stored", and
// never panic.
func TestOrientationOfMalformedHeaders(t *testing.T) {
	good := withOrientation(t, halves(8, 8), 6, binary.LittleEndian)
	if o := orientation(good); o != 6 {
		t.Fatalf("a good header reads as %d", o)
	}
	cases := map[string][]byte{
		"empty":            nil,
		"not a JPEG":       []byte("\x89PNG\r\n"),
		"cut in the APP1":  good[:12],
		"length too large": append(append([]byte{}, good[:4]...), 0xff, 0xff),
		"no TIFF magic":    bytes.Replace(good, []byte("II*\x00"), []byte("II+\x00"), 1),
		"value 9":          bytes.Replace(good, []byte{0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06}, []byte{0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x09}, 1),
		"long type":        bytes.Replace(good, []byte{0x12, 0x01, 0x03, 0x00}, []byte{0x12, 0x01, 0x04, 0x00}, 1),
	}
	for name, data := range cases {
		if o := orientation(data); o != 1 {
			t.Errorf("%s: orientation %d, want 1", name, o)
		}
	}
	// Every truncation of a good header reads without panicking.
	for n := range len(good) {
		_ = orientation(good[:n])
	}
}
