package notices_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/mail"
	"github.com/puente-org/puente/notices"
)

// The digest speaks the member's language and zone; one whose talks are all gone by
// delivery is not sent, and one without its window is refused.
func TestWeeklyDigestInTheReadersLanguageAndZone(t *testing.T) {
	base, _ := url.Parse("https://puente.example.org")
	r, err := notices.New(notices.Options{Source: noFacts{}, BaseURL: base, LinkKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	london := domain.Event{ID: 1, Title: "Battery Seminar", TimeZone: "Europe/London"}
	lapaz := domain.Event{ID: 2, Title: "Seminario del Salar", TimeZone: "America/La_Paz"}
	talk := func(id int64, title string, start time.Time) domain.Occurrence {
		return domain.Occurrence{ID: id, Title: title, Start: start, End: start.Add(time.Hour)}
	}
	win := domain.DigestWindow{From: time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC), Until: time.Date(2026, 3, 16, 3, 0, 0, 0, time.UTC)}
	n := domain.Notice{Kind: domain.NoticeWeeklyDigest, PersonID: 7, List: domain.ListWeeklyDigest,
		Payload: domain.NoticePayload{Digest: &win}}
	f := domain.NoticeFacts{
		Person: domain.Person{ID: 7, Email: "joao@example.br", Profile: domain.Profile{Name: "João", Language: "pt",
			TimeZone: "America/Sao_Paulo"}},
		Talks: []domain.NoticeTalk{
			{Event: london, Occurrence: talk(11, "Cátodos", time.Date(2026, 3, 3, 15, 0, 0, 0, time.UTC))},
			{Event: lapaz, Occurrence: talk(12, "Salmueras", time.Date(2026, 3, 3, 18, 0, 0, 0, time.UTC)), Registered: true},
		},
	}
	e, err := r.Email(n, f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Subject, "2 palestras") {
		t.Errorf("subject %q", e.Subject)
	}
	// São Paulo is at -03: 15:00Z is 12:00, 18:00Z is 15:00; La Paz (-04) shows its own clock.
	for _, s := range []string{"Olá, João,", "12:00–13:00 · Cátodos", "15:00–16:00 · Salmueras", "15:00 Londres",
		"14:00 La Paz", "Você está inscrito(a).", "https://puente.example.org/occurrences/12", "horário de São Paulo"} {
		if !strings.Contains(e.Text, s) {
			t.Errorf("digest lacks %q:\n%s", s, e.Text)
		}
	}
	if strings.Count(e.Text, "terça-feira, 3 de março de 2026")+strings.Count(e.Text, "terça-feira 3 de março de 2026") != 1 {
		t.Errorf("the two talks of one day are not under one heading:\n%s", e.Text)
	}
	if e.To != "joao@example.br" || !strings.Contains(e.HTML, `lang="pt"`) || !strings.Contains(e.HTML, "Salmueras") {
		t.Errorf("email: to %q, html %s", e.To, e.HTML)
	}

	f.Talks = nil
	if _, err := r.Email(n, f); !errors.Is(err, mail.ErrSuperseded) {
		t.Errorf("a digest with no talk left: %v, want superseded", err)
	}
	n.Payload.Digest = nil
	if _, err := r.Email(n, f); !errors.Is(err, mail.ErrInvalidMessage) {
		t.Errorf("a digest without its window: %v, want invalid", err)
	}
}
