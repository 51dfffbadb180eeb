package server_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// upload posts a file as the occurrence form's photo field.
func (c *client) upload(path, filename string, data []byte) response {
	c.e.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("_csrf", c.csrf)
	part, _ := w.CreateFormFile("photo", filename)
	_, _ = part.Write(data)
	_ = w.Close()
	return c.do("POST", path, &body, map[string]string{"Content-Type": w.FormDataContentType()})
}

func testImage(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 120, 255})
		}
	}
	return img
}

// gpsMarker is text in the test photo's EXIF block, to look for in what is served.
const gpsMarker = "GPS 51.5074N 0.1278W"

// jpegWithEXIF is a JPEG whose EXIF (APP1) block has a GPS IFD and a description holding
// gpsMarker, as a phone writes them.
func jpegWithEXIF(t *testing.T, w, h int) []byte {
	t.Helper()
	var plain bytes.Buffer
	if err := jpeg.Encode(&plain, testImage(w, h), nil); err != nil {
		t.Fatal(err)
	}
	// TIFF, little-endian: IFD0 at 8 with two entries (ImageDescription, GPS IFD pointer),
	// then the GPS IFD (GPSLatitudeRef "N"), then the description's text.
	le := binary.LittleEndian
	tiff := []byte("II*\x00\x08\x00\x00\x00")
	entry := func(tag, typ uint16, count, value uint32) []byte {
		b := make([]byte, 12)
		le.PutUint16(b, tag)
		le.PutUint16(b[2:], typ)
		le.PutUint32(b[4:], count)
		le.PutUint32(b[8:], value)
		return b
	}
	ifd0 := 8
	gpsIFD := ifd0 + 2 + 2*12 + 4
	text := gpsIFD + 2 + 12 + 4
	tiff = append(tiff, 2, 0)
	tiff = append(tiff, entry(0x010e, 2, uint32(len(gpsMarker)+1), uint32(text))...)
	tiff = append(tiff, entry(0x8825, 4, 1, uint32(gpsIFD))...)
	tiff = append(tiff, 0, 0, 0, 0)
	tiff = append(tiff, 1, 0)
	tiff = append(tiff, entry(0x0001, 2, 2, uint32('N'))...)
	tiff = append(tiff, 0, 0, 0, 0)
	tiff = append(tiff, gpsMarker+"\x00"...)
	app1 := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(app1)+2))
	seg = append(seg, app1...)
	b := plain.Bytes()
	out := append([]byte{}, b[:2]...) // SOI
	out = append(out, seg...)
	return append(out, b[2:]...)
}

// pngClaiming is a valid 1×1 PNG whose header claims w×h pixels (a decompression bomb's
// header: a small file that would take gigabytes to decode).
func pngClaiming(t *testing.T, w, h uint32) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, testImage(1, 1)); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// 8-byte signature, then the IHDR chunk: length (4), "IHDR" (4), data (13), CRC (4).
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestSpeakerPhotos(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{
		"title": "Photo Seminar", "timezone": "Europe/London", "start_date": "2026-01-08", "start_time": "15:00",
		"duration_minutes": 60, "rrule": "FREQ=WEEKLY;BYDAY=TH;COUNT=3"})
	occ := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences", s["id"]), nil))[0]
	occPath := fmt.Sprintf("/api/v1/occurrences/%v", occ["id"])
	p.must(200, "organiser", "PATCH", occPath, map[string]any{"speakers": []map[string]any{
		{"name": "Ana Pérez", "affiliation": "Universidad de Chile"}, {"name": "Bruno Costa", "affiliation": "USP"}}})
	form := fmt.Sprintf("/organise/occurrences/%v", occ["id"])

	b := p.browser("en")
	b.signIn("organiser@example.org")
	page := b.get(form)
	if !strings.Contains(page.body, `id="photo-form-0"`) || !strings.Contains(page.body, "JPEG or PNG, 8 MB at most") {
		t.Fatalf("the form offers no photo upload")
	}

	// A JPEG straight from a phone: resized, re-encoded, its EXIF (GPS) gone.
	r := b.upload(form+"/speakers/0/photo", "ana.jpg", jpegWithEXIF(t, 1200, 800))
	if r.status != 303 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	public := p.browser("en").get(fmt.Sprintf("/occurrences/%v", occ["id"]))
	m := regexp.MustCompile(`<img src="(/speaker-photos/[A-Za-z0-9_-]{22})" alt="Photo of Ana Pérez"`).FindStringSubmatch(public.body)
	if m == nil {
		t.Fatalf("the session page shows no photo")
	}
	// The URL's key cannot be guessed: the photo is not found by its id, nor by a key
	// that differs in one character, nor by something that is no key at all.
	anaID := p.must(200, "", "GET", occPath, nil)["speakers"].([]any)[0].(map[string]any)["photo_id"]
	last := m[1][len(m[1])-1]
	wrong := m[1][:len(m[1])-1] + map[bool]string{true: "B", false: "A"}[last == 'A']
	for _, path := range []string{fmt.Sprintf("/speaker-photos/%v", anaID), "/speaker-photos/1", wrong,
		"/speaker-photos/%27%20OR%201=1--aaaaaaaa", "/speaker-photos/" + strings.Repeat("a", 200)} {
		if r := p.browser("").get(path); r.status != 404 {
			t.Errorf("%s: %d, want 404", path, r.status)
		}
	}
	photo := p.browser("").get(m[1])
	if photo.status != 200 || photo.header.Get("Content-Type") != "image/jpeg" ||
		!strings.Contains(photo.header.Get("Cache-Control"), "immutable") || photo.header.Get("ETag") == "" {
		t.Fatalf("photo: %d %v", photo.status, photo.header)
	}
	if strings.Contains(photo.body, "Exif") || strings.Contains(photo.body, gpsMarker) || photo.body[2:4] == "\xff\xe1" {
		t.Error("the served photo still carries EXIF data")
	}
	img, format, err := image.Decode(strings.NewReader(photo.body))
	if err != nil || format != "jpeg" || img.Bounds().Dx() != 400 || img.Bounds().Dy() != 266 {
		t.Fatalf("photo: %v %s %v", err, format, img.Bounds())
	}
	if again := p.browser("").do("GET", m[1], nil, map[string]string{"If-None-Match": photo.header.Get("ETag")}); again.status != 304 {
		t.Errorf("revalidation: %d", again.status)
	}

	// A PNG, taller than wide.
	var pngBuf bytes.Buffer
	_ = png.Encode(&pngBuf, testImage(300, 500))
	if r := b.upload(form+"/speakers/1/photo", "bruno.png", pngBuf.Bytes()); r.status != 303 {
		t.Fatalf("png upload: %d", r.status)
	}
	speakers := p.must(200, "", "GET", occPath, nil)["speakers"].([]any)
	brunoPhoto := speakers[1].(map[string]any)["photo_id"]
	brunoURL, _ := speakers[1].(map[string]any)["photo_url"].(string)
	if !strings.HasPrefix(brunoURL, "/speaker-photos/") || strings.HasSuffix(brunoURL, fmt.Sprint(brunoPhoto)) {
		t.Fatalf("the API's photo_url: %q (id %v)", brunoURL, brunoPhoto)
	}
	if bp := p.browser("").get(brunoURL); bp.status != 200 {
		t.Fatalf("png photo: %d", bp.status)
	} else if cfg, _, err := image.DecodeConfig(strings.NewReader(bp.body)); err != nil || cfg.Width != 240 || cfg.Height != 400 {
		t.Errorf("png photo size: %v %v", cfg, err)
	}

	// Refusals, each with its reason on the form.
	for _, c := range []struct {
		name   string
		data   []byte
		status int
		want   string
	}{
		{"not an image", []byte("%PDF-1.4 not a picture"), 400, "That file is not a JPEG or PNG image."},
		{"bomb", pngClaiming(t, 100000, 100000), 400, "The image is too large (100000×100000 pixels); send one of at most 8000 pixels on each side."},
		{"too large", append(jpegWithEXIF(t, 16, 16), make([]byte, 9<<20)...), 413, "The photo is too large: 8 MB at most."},
	} {
		r := b.upload(form+"/speakers/0/photo", "x.jpg", c.data)
		if r.status != c.status || !strings.Contains(r.body, c.want) {
			t.Errorf("%s: %d, want %d with %q", c.name, r.status, c.status, c.want)
		}
	}
	es := p.browser("es")
	es.signIn("admin@example.org") // a site admin, whose pages speak Spanish
	es.get(form)
	if r := es.upload(form+"/speakers/0/photo", "x.txt", []byte("hola")); !strings.Contains(r.body, "Ese archivo no es una imagen JPEG o PNG.") {
		t.Errorf("refusal in Spanish: %d", r.status)
	}

	// Only the event's organisers may upload.
	other := p.browser("en")
	other.signIn("other@example.org")
	other.get("/profile")
	if r := other.upload(form+"/speakers/0/photo", "x.jpg", jpegWithEXIF(t, 50, 50)); r.status != 403 {
		t.Errorf("another organiser's upload: %d", r.status)
	}
	if r := p.browser("en").upload(form+"/speakers/0/photo", "x.jpg", jpegWithEXIF(t, 50, 50)); r.status != 403 {
		t.Errorf("anonymous upload (no session, no CSRF token): %d", r.status)
	}

	// Saving the form keeps the photos; the API keeps them by id, and refuses a photo that
	// is not this talk's.
	page = b.get(form)
	values := url.Values{"title": {"With photos"}, "start_date": {"2026-01-08"}, "start_time": {"15:00"}, "duration_minutes": {"60"}}
	for _, k := range []string{"speaker_name_0", "speaker_affiliation_0", "speaker_photo_0", "speaker_name_1", "speaker_photo_1"} {
		if m := regexp.MustCompile(`name="` + k + `" value="([^"]*)"`).FindStringSubmatch(page.body); m != nil {
			values.Set(k, m[1])
		}
	}
	// A refused save shows the form again with the photos still there.
	refused := url.Values{}
	for k, v := range values {
		refused[k] = v
	}
	refused.Set("duration_minutes", "0")
	if r := b.post(form, refused); r.status != 400 || !strings.Contains(r.body, `src="`+brunoURL+`"`) {
		t.Errorf("refused save: %d, photo shown: %v", r.status, strings.Contains(r.body, brunoURL))
	}
	if r := b.post(form, values); r.status != 303 {
		t.Fatalf("save form: %d %s", r.status, r.body)
	}
	speakers = p.must(200, "", "GET", occPath, nil)["speakers"].([]any)
	if speakers[0].(map[string]any)["photo_id"] == nil || speakers[1].(map[string]any)["photo_id"] != brunoPhoto {
		t.Errorf("photos lost on save: %v", speakers)
	}
	other2 := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences", s["id"]), nil))[1]
	code, out := p.call("organiser", "PATCH", fmt.Sprintf("/api/v1/occurrences/%v", other2["id"]), map[string]any{
		"speakers": []map[string]any{{"name": "Thief", "photo_id": brunoPhoto}}})
	if code != 400 || fieldOf(out) != "speakers" {
		t.Errorf("another talk's photo: %d %v", code, out)
	}
	// Removing a photo deletes it.
	b.get(form)
	if r := b.post(form+"/speakers/1/photo/delete", url.Values{}); r.status != 303 {
		t.Fatalf("remove: %d", r.status)
	}
	if r := p.browser("").get(brunoURL); r.status != 404 {
		t.Errorf("removed photo still served: %d", r.status)
	}
}
