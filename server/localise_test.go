package server_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"strings"
	"testing"
)

// A refused request is explained in the reader's language, on forms and in the JSON API,
// with the same machine code and field whatever the language.
func TestErrorsSpeakTheReadersLanguage(t *testing.T) {
	p := newProgEnv(t)
	s := p.must(201, "organiser", "POST", "/api/v1/series", batterySeminar)
	bad := `{"rrule":"FREQ=HOURLY","title":"x"}`
	for lang, want := range map[string]string{
		"en": "FREQ=HOURLY is not allowed: a seminar series can repeat daily, weekly, monthly or yearly.",
		"es": "FREQ=HOURLY no está permitido: una serie de seminarios puede repetirse a diario, cada semana, cada mes o cada año.",
	} {
		code, raw := p.send("organiser", "PATCH", fmt.Sprintf("/api/v1/series/%v", s["id"]), strings.NewReader(bad), "Accept-Language", lang)
		var out struct {
			Error struct{ Code, Message, Field string }
		}
		err := json.Unmarshal(raw, &out)
		if err != nil || code != 400 || out.Error.Code != "invalid" || out.Error.Field != "rrule" || out.Error.Message != want {
			t.Errorf("%s: %d %+v (%v)", lang, code, out, err)
		}
	}

	// A date in a message is written in the reader's language too.
	code, raw := p.send("organiser", "POST", fmt.Sprintf("/api/v1/series/%v/occurrences", s["id"]),
		strings.NewReader(`{"start_date":"2026-03-29","start_time":"01:30"}`), "Accept-Language", "es")
	var out struct {
		Error struct{ Message string }
	}
	if err := json.Unmarshal(raw, &out); err != nil || code != 400 ||
		out.Error.Message != "La hora 01:30 no existe el domingo 29 de marzo de 2026 en Europe/London (los relojes se adelantan); elige otra hora." {
		t.Errorf("gap in Spanish: %d %q (%v)", code, out.Error.Message, err)
	}

	// Forms: the profile in Spanish, with a NUL in the name.
	b := p.browser("es")
	b.signIn("attendee@example.org")
	b.get("/profile")
	r := b.post("/profile", url.Values{"name": {"Ana\x00"}, "language": {"es"}})
	if r.status != 400 || !strings.Contains(html.UnescapeString(r.body), "Contiene un carácter que no se puede guardar") {
		t.Errorf("profile form with a NUL: %d %s", r.status, r.body)
	}
	r = b.post("/profile/tokens", url.Values{"name": {"ci\x00"}})
	if r.status != 400 || !strings.Contains(html.UnescapeString(r.body), "Contiene un carácter que no se puede guardar") {
		t.Errorf("token form with a NUL: %d", r.status)
	}

	// The organiser's forms, in Spanish, with a NUL in a title and in a speaker's name.
	o := p.browser("es")
	o.signIn("organiser@example.org")
	o.get("/organise/new?kind=series")
	r = o.post("/organise/new?kind=series", url.Values{"title": {"Seminario\x00"}, "timezone": {"Europe/London"},
		"start_date": {"2026-01-08"}, "start_time": {"15:00"}, "duration_minutes": {"60"}, "repeat": {"once"},
		"language": {"es"}, "visibility": {"public"}, "registration": {"open"}, "capacity": {"0"}, "join_window_minutes": {"15"}})
	if r.status != 400 || !strings.Contains(html.UnescapeString(r.body), "Contiene un carácter que no se puede guardar") {
		t.Errorf("event form with a NUL: %d", r.status)
	}
	occ := items(t, p.must(200, "", "GET", fmt.Sprintf("/api/v1/series/%v/occurrences", s["id"]), nil))[0]["id"]
	o.get(fmt.Sprintf("/organise/occurrences/%v", occ))
	r = o.post(fmt.Sprintf("/organise/occurrences/%v", occ), url.Values{"start_date": {"2026-01-08"}, "start_time": {"15:00"},
		"duration_minutes": {"60"}, "speaker_name_0": {"Dra\x00 Rojas"}})
	if r.status != 400 || !strings.Contains(html.UnescapeString(r.body), "Contiene un carácter que no se puede guardar") {
		t.Errorf("occurrence form with a NUL: %d", r.status)
	}
	r = o.post(fmt.Sprintf("/organise/occurrences/%v", occ), url.Values{"start_date": {"0001-01-08"}, "start_time": {"15:00"},
		"duration_minutes": {"60"}})
	if r.status != 400 || !strings.Contains(html.UnescapeString(r.body), "Elige una fecha entre los años 1970 y 2200.") {
		t.Errorf("occurrence form in the year 1: %d", r.status)
	}
}
