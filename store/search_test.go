package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// Search ignores accents and case on both sides, in the talk's title, abstract, series,
// topics and speakers, and each word must match; odd characters match themselves.
func TestSearchIgnoresAccentsAndCase(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	org, err := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", Name: "Org", IsOrganiser: true})
	if err != nil {
		t.Fatal(err)
	}
	event := func(slug, title, description string, tags []string, venue domain.Venue) domain.Event {
		t.Helper()
		e, err := s.CreateEvent(ctx, domain.Event{Kind: domain.KindSeries, Slug: slug, Title: title, Description: description,
			Language: "es", Visibility: "public", TimeZone: "America/Sao_Paulo", StartDate: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC),
			StartTime: "10:00", Duration: time.Hour, RRule: "FREQ=WEEKLY;BYDAY=TH;COUNT=2", Registration: "open", Tags: tags,
			Venue: venue}, org.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	sao := event("sao", "Seminário de São Paulo", "Baterias e **lítio**.", []string{"Reciclagem"}, domain.Venue{Name: "USP"})
	odd := event("odd", `100% lithium_brine \ refining`, "", []string{"refining"}, domain.Venue{})
	occs, err := s.Occurrences(ctx, store.OccurrenceFilter{EventID: sao.ID})
	if err != nil || len(occs) != 2 {
		t.Fatalf("occurrences: %v %d", err, len(occs))
	}
	if _, err := s.UpdateOccurrence(ctx, occs[0].Occurrence.ID, func(_ domain.Event, o *domain.Occurrence) error {
		o.Title, o.Abstract = "Cátodos de alto níquel", "Síntese de precursores"
		o.Speakers = []domain.Speaker{{Name: "María José Núñez", Affiliation: "Universidad de Atacama"}}
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	first := occs[0].Occurrence.ID

	search := func(q string, f store.OccurrenceFilter) []int64 {
		t.Helper()
		f.Query = q
		list, err := s.Occurrences(ctx, f)
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		var ids []int64
		for _, l := range list {
			ids = append(ids, l.Occurrence.ID)
		}
		return ids
	}
	for _, q := range []string{"maria", "MARÍA", "María", "Mari\u0301a", "nunez", "NÚÑEZ", "catodos", "niquel alto",
		"sintese", "atacama universidad", "maria catodos"} {
		if got := search(q, store.OccurrenceFilter{}); !slices.Equal(got, []int64{first}) {
			t.Errorf("search %q: %v, want only %d", q, got, first)
		}
	}
	// The series' title and topics find all its talks.
	for _, q := range []string{"sao", "SÃO PAULO", "seminario", "reciclagem"} {
		if got := search(q, store.OccurrenceFilter{EventID: sao.ID}); len(got) != 2 {
			t.Errorf("search %q: %v, want both talks", q, got)
		}
	}
	// Every word must match; %, _ and \ are characters, not patterns.
	for q, want := range map[string]int{"maria rojas": 0, "%": 2, "100%": 2, "_": 2, "lithium_brine": 2, `\`: 2,
		"lithium%brine": 0, "lithium_": 2, "l_thium": 0, "x%": 0, `\\`: 0, "'": 0, "%'; DROP TABLE events; --": 0} {
		if got := search(q, store.OccurrenceFilter{}); len(got) != want {
			t.Errorf("search %q: %d results, want %d", q, len(got), want)
		}
	}
	// Long terms are refused by the server (domain.SearchQuery); the store survives them anyway.
	if got := search(strings.Repeat("maría ", 2000), store.OccurrenceFilter{}); !slices.Equal(got, []int64{first}) {
		t.Errorf("a 12 KB term: %v", got)
	}
	if _, err := s.Occurrences(ctx, store.OccurrenceFilter{Query: "bad \xff utf-8"}); err == nil {
		t.Errorf("invalid UTF-8 was accepted by the database")
	}

	// Topics and formats.
	if got := search("", store.OccurrenceFilter{Tag: "RECICLAGEM"}); len(got) != 2 {
		t.Errorf("topic in capitals: %v", got)
	}
	if got := search("", store.OccurrenceFilter{Format: domain.FormatInPerson}); len(got) != 2 || got[0] != first {
		t.Errorf("in person: %v", got)
	}
	online, err := s.Occurrences(ctx, store.OccurrenceFilter{Format: domain.FormatOnline})
	if err != nil || len(online) != 2 || online[0].Event.ID != odd.ID {
		t.Errorf("online only: %v %d", err, len(online))
	}

	// Events: title, description and topics, accents and case aside.
	for q, want := range map[string]int64{"SEMINARIO SAO": sao.ID, "litio": sao.ID, "LÍTIO baterias": sao.ID, "brine": odd.ID} {
		list, total, err := s.ListEvents(ctx, store.EventFilter{Query: q})
		if err != nil || total != 1 || list[0].ID != want {
			t.Errorf("events %q: %v %d", q, err, total)
		}
	}
	if _, total, err := s.ListEvents(ctx, store.EventFilter{Query: "50%"}); err != nil || total != 0 {
		t.Errorf("events 50%%: %v %d", err, total)
	}
	topics, err := s.Topics(ctx)
	if err != nil || !slices.Equal(topics, []string{"Reciclagem", "refining"}) {
		t.Errorf("topics: %v %v", topics, err)
	}
}

// With the unaccent extension (the server here has it), folding knows letters beyond the
// built-in table's range, such as Vietnamese names; the table alone, the fallback for
// servers without the extension, still folds what it covers, typed composed or not.
func TestFoldUsesUnaccentWhereAvailable(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	fold := func(fn, in string) string {
		t.Helper()
		var out string
		if err := s.Pool().QueryRow(ctx, "SELECT "+fn+"($1)", in).Scan(&out); err != nil {
			t.Fatalf("%s(%q): %v", fn, in, err)
		}
		return out
	}
	var have bool
	if err := s.Pool().QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'unaccent')").Scan(&have); err != nil {
		t.Fatal(err)
	}
	var available bool
	if err := s.Pool().QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent')").Scan(&available); err != nil {
		t.Fatal(err)
	}
	if available && !have {
		t.Fatal("the server offers unaccent but the migration did not create it")
	}
	for in, want := range map[string]string{"María": "maria", "SÃO PAULO": "sao paulo", "Marı\u0301a": "maria", "Łódź": "lodz", "Straße": "strasse"} {
		if got := fold("puente_fold_table", in); got != want {
			t.Errorf("puente_fold_table(%q) = %q, want %q", in, got, want)
		}
		if got := fold("puente_fold", in); got != want {
			t.Errorf("puente_fold(%q) = %q, want %q", in, got, want)
		}
	}
	if !have {
		t.Log("this server has no unaccent: folding is the table's alone")
		return
	}
	for in, want := range map[string]string{"Nguyễn Thị Hằng": "nguyen thi hang", "ﬁbre": "fibre"} {
		if got := fold("puente_fold", in); got != want {
			t.Errorf("puente_fold(%q) = %q, want %q (unaccent)", in, got, want)
		}
	}
}
