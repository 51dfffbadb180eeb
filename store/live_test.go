package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// liveStoreFixture makes an organiser and a weekly series of two talks; it returns the
// store, its clock, the talks' ids and an attendee.
func liveStoreFixture(t *testing.T) (s *store.Store, clk *clock, occA, occB int64, ana domain.Person) {
	t.Helper()
	ctx := context.Background()
	s, clk = newStore(t)
	org, err := s.CreatePerson(ctx, store.NewPerson{Email: "org@example.org", IsOrganiser: true})
	if err != nil {
		t.Fatal(err)
	}
	ana, err = s.CreatePerson(ctx, store.NewPerson{Email: "ana@example.org", Name: "Ana"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.CreateEvent(ctx, domain.Event{Kind: domain.KindSeries, Slug: "live", Title: "Live", Language: "en",
		Visibility: "public", TimeZone: "UTC", StartDate: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), StartTime: "15:00",
		Duration: time.Hour, RRule: "FREQ=WEEKLY;COUNT=2", Registration: "open", Tags: []string{}}, org.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	occs, err := s.Occurrences(ctx, store.OccurrenceFilter{EventID: e.ID})
	if err != nil || len(occs) != 2 {
		t.Fatalf("occurrences: %v %d", err, len(occs))
	}
	return s, clk, occs[0].Occurrence.ID, occs[1].Occurrence.ID, ana
}

func liveVoters(t *testing.T, s *store.Store, n int) []domain.Person {
	t.Helper()
	out := make([]domain.Person, n)
	for i := range out {
		p, err := s.CreatePerson(context.Background(), store.NewPerson{Email: fmt.Sprintf("p%03d@example.org", i), Name: fmt.Sprintf("P%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = p
	}
	return out
}

func TestChatHistoryOrderAndLimit(t *testing.T) {
	ctx := context.Background()
	s, clk, occA, occB, ana := liveStoreFixture(t)
	start := clk.Now()
	for i := range 5 {
		m, err := s.AddChat(ctx, occA, ana.ID, "Ana", fmt.Sprintf("  message %d\n", i))
		if err != nil {
			t.Fatal(err)
		}
		if m.ID == 0 || m.OccurrenceID != occA || m.PersonID != ana.ID || m.AuthorName != "Ana" ||
			m.Text != fmt.Sprintf("message %d", i) || !m.At.Equal(clk.Now()) {
			t.Fatalf("stored message: %+v", m)
		}
		clk.Add(time.Second)
	}
	if _, err := s.AddChat(ctx, occB, ana.ID, "Ana", "elsewhere"); err != nil {
		t.Fatal(err)
	}
	texts := func(ms []store.ChatMessage) string {
		var b []string
		for _, m := range ms {
			b = append(b, m.Text)
		}
		return strings.Join(b, ",")
	}
	last, err := s.ChatHistory(ctx, occA, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(last); got != "message 2,message 3,message 4" {
		t.Fatalf("the last three, oldest first: %s", got)
	}
	if !last[0].At.Equal(start.Add(2 * time.Second)) {
		t.Fatalf("time of message 2: %v", last[0].At)
	}
	for _, limit := range []int{0, -1, 100} {
		all, err := s.ChatHistory(ctx, occA, limit)
		if err != nil || texts(all) != "message 0,message 1,message 2,message 3,message 4" {
			t.Fatalf("limit %d: %v %s", limit, err, texts(all))
		}
	}
	if none, err := s.ChatHistory(ctx, 424242, 10); err != nil || none == nil || len(none) != 0 {
		t.Fatalf("no chat: %v %#v", err, none)
	}
	// Plain text is stored as typed: escaping is the renderer's job.
	m, err := s.AddChat(ctx, occA, ana.ID, "Ana <b>", `<script>alert("x")</script> & ¿qué?`)
	if err != nil || m.Text != `<script>alert("x")</script> & ¿qué?` || m.AuthorName != "Ana <b>" {
		t.Fatalf("plain text: %v %+v", err, m)
	}
}

func TestLiveTextValidation(t *testing.T) {
	ctx := context.Background()
	s, _, occA, _, ana := liveStoreFixture(t)
	for _, tc := range []struct {
		name string
		text string
		ok   bool
	}{
		{"empty", "", false},
		{"blank", " \n\t ", false},
		{"nul", "a\x00b", false},
		{"invalid utf-8", "a\xffb", false},
		{"at most", strings.Repeat("é", store.MaxQuestionRunes), true},
		{"one too many", strings.Repeat("é", store.MaxQuestionRunes+1), false},
		{"spaces around do not count", "  " + strings.Repeat("x", store.MaxQuestionRunes) + "  ", true},
	} {
		_, err := s.AskQuestion(ctx, occA, ana.ID, "Ana", tc.text)
		if tc.ok && err != nil {
			t.Errorf("question %s: %v", tc.name, err)
		}
		if !tc.ok {
			de, isDomain := domain.AsError(err)
			if !isDomain || de.Code != domain.CodeInvalid || de.Field != "text" || de.ID == "" {
				t.Errorf("question %s: want invalid text, got %v", tc.name, err)
			}
		}
	}
	if _, err := s.AddChat(ctx, occA, ana.ID, "Ana", strings.Repeat("ü", store.MaxChatRunes)); err != nil {
		t.Errorf("chat at the limit: %v", err)
	}
	if _, err := s.AddChat(ctx, occA, ana.ID, "Ana", strings.Repeat("ü", store.MaxChatRunes+1)); code(err) != domain.CodeInvalid {
		t.Errorf("chat too long: %v", err)
	}
	if _, err := s.AddChat(ctx, occA, ana.ID, "Ana", "   "); code(err) != domain.CodeInvalid {
		t.Errorf("blank chat: %v", err)
	}
	if _, err := s.AddChat(ctx, 424242, ana.ID, "Ana", "hello"); code(err) != domain.CodeNotFound {
		t.Errorf("chat in an unknown occurrence: %v", err)
	}
	if _, err := s.AskQuestion(ctx, 424242, ana.ID, "Ana", "why?"); code(err) != domain.CodeNotFound {
		t.Errorf("question in an unknown occurrence: %v", err)
	}
	// An overlong author name is a snapshot, cut rather than refused.
	m, err := s.AddChat(ctx, occA, ana.ID, strings.Repeat("n", 300), "hi")
	if err != nil || len([]rune(m.AuthorName)) != 200 {
		t.Errorf("long author name: %v %d", err, len(m.AuthorName))
	}
}

func TestQuestionVotesOnePerPerson(t *testing.T) {
	ctx := context.Background()
	s, clk, occA, occB, ana := liveStoreFixture(t)
	bruno := liveVoters(t, s, 1)[0]
	q1, err := s.AskQuestion(ctx, occA, ana.ID, "Ana", "  Why?  ")
	if err != nil {
		t.Fatal(err)
	}
	if q1.State != store.QuestionOpen || q1.Votes != 0 || q1.Text != "Why?" || q1.PersonID != ana.ID || !q1.At.Equal(clk.Now()) {
		t.Fatalf("new question: %+v", q1)
	}
	clk.Add(time.Minute)
	q2, _ := s.AskQuestion(ctx, occA, bruno.ID, "Bruno", "How?")
	other, _ := s.AskQuestion(ctx, occB, bruno.ID, "Bruno", "Next week?")

	vote := func(qID, personID int64, up bool, want int) {
		t.Helper()
		q, err := s.VoteQuestion(ctx, occA, qID, personID, up)
		if err != nil || q.Votes != want || q.ID != qID {
			t.Fatalf("vote %v on %d by %d: %v %+v, want %d votes", up, qID, personID, err, q, want)
		}
	}
	vote(q1.ID, bruno.ID, true, 1)
	vote(q1.ID, bruno.ID, true, 1) // again: still one
	vote(q1.ID, ana.ID, true, 2)
	vote(q2.ID, ana.ID, true, 1)
	vote(q1.ID, bruno.ID, false, 1) // taken back
	vote(q1.ID, bruno.ID, false, 1) // taking back twice is harmless
	vote(q2.ID, bruno.ID, false, 1) // never voted

	mine, err := s.MyVotes(ctx, occA, ana.ID)
	if err != nil || fmt.Sprint(mine) != fmt.Sprint([]int64{q1.ID, q2.ID}) {
		t.Fatalf("Ana's votes: %v %v", err, mine)
	}
	if mine, _ := s.MyVotes(ctx, occA, bruno.ID); mine == nil || len(mine) != 0 {
		t.Fatalf("Bruno's votes: %#v", mine)
	}
	list, err := s.LiveQuestions(ctx, occA)
	if err != nil || len(list) != 2 || list[0].ID != q1.ID || list[1].ID != q2.ID || list[0].Votes != 1 || list[1].Votes != 1 {
		t.Fatalf("questions in the order asked: %v %+v", err, list)
	}

	// A question of another occurrence, or none at all, is not found there.
	if _, err := s.VoteQuestion(ctx, occA, other.ID, ana.ID, true); code(err) != domain.CodeNotFound {
		t.Fatalf("vote on another occurrence's question: %v", err)
	}
	if _, err := s.VoteQuestion(ctx, occA, 424242, ana.ID, true); code(err) != domain.CodeNotFound {
		t.Fatalf("vote on no question: %v", err)
	}
	if _, err := s.VoteQuestion(ctx, occA, q1.ID, 424242, true); code(err) != domain.CodeNotFound {
		t.Fatalf("vote by no one: %v", err)
	}
	if q, _ := s.LiveQuestions(ctx, occB); len(q) != 1 || q[0].Votes != 0 {
		t.Fatalf("the refused vote counted: %+v", q)
	}

	// An account deleted: its question stays without a person, its votes go with it.
	if _, err := s.Pool().Exec(ctx, `DELETE FROM people WHERE id = $1`, ana.ID); err != nil {
		t.Fatal(err)
	}
	list, _ = s.LiveQuestions(ctx, occA)
	if list[0].PersonID != 0 || list[0].AuthorName != "Ana" {
		t.Fatalf("question of a deleted account: %+v", list[0])
	}
	vote(q1.ID, bruno.ID, true, 1) // Ana's vote is gone from the count; Bruno's is in
}

// Many people voting at once: every vote counts exactly once.
func TestConcurrentVotes(t *testing.T) {
	ctx := context.Background()
	s, _, occA, _, ana := liveStoreFixture(t)
	q, err := s.AskQuestion(ctx, occA, ana.ID, "Ana", "Is it linear?")
	if err != nil {
		t.Fatal(err)
	}
	voters := liveVoters(t, s, 40)
	var wg sync.WaitGroup
	errs := make(chan error, 3*len(voters))
	for i, p := range voters {
		wg.Go(func() {
			// everyone votes twice; every fourth takes it back
			for range 2 {
				if _, err := s.VoteQuestion(ctx, occA, q.ID, p.ID, true); err != nil {
					errs <- err
				}
			}
			if i%4 == 0 {
				if _, err := s.VoteQuestion(ctx, occA, q.ID, p.ID, false); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	list, err := s.LiveQuestions(ctx, occA)
	if err != nil || len(list) != 1 || list[0].Votes != 30 {
		t.Fatalf("after 40 votes and 10 taken back: %v %+v", err, list)
	}
	var rows int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM live_question_votes WHERE question_id = $1`, q.ID).Scan(&rows); err != nil || rows != 30 {
		t.Fatalf("vote rows: %d %v", rows, err)
	}
}

func TestQuestionStates(t *testing.T) {
	ctx := context.Background()
	s, clk, occA, occB, ana := liveStoreFixture(t)
	q, _ := s.AskQuestion(ctx, occA, ana.ID, "Ana", "Why?")
	for _, state := range []string{store.QuestionAnswered, store.QuestionDismissed, store.QuestionOpen, store.QuestionAnswered} {
		clk.Add(time.Minute)
		got, err := s.SetQuestionState(ctx, occA, q.ID, state)
		if err != nil || got.State != state || !got.At.Equal(q.At) {
			t.Fatalf("set %s: %v %+v", state, err, got)
		}
	}
	if _, err := s.SetQuestionState(ctx, occA, q.ID, "deleted"); code(err) != domain.CodeInvalid {
		t.Fatalf("unknown state: %v", err)
	}
	if _, err := s.SetQuestionState(ctx, occB, q.ID, store.QuestionDismissed); code(err) != domain.CodeNotFound {
		t.Fatalf("through another occurrence: %v", err)
	}
	if list, _ := s.LiveQuestions(ctx, occA); list[0].State != store.QuestionAnswered {
		t.Fatalf("refused changes applied: %+v", list[0])
	}
}

// Deleting an occurrence takes its chat, questions and votes with it.
func TestLiveRecordsGoWithTheOccurrence(t *testing.T) {
	ctx := context.Background()
	s, _, occA, _, ana := liveStoreFixture(t)
	l, err := s.OccurrenceByID(ctx, occA)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := s.AddOccurrence(ctx, l.Event.ID, domain.Occurrence{StartLocal: time.Date(2026, 3, 7, 10, 0, 0, 0, time.UTC), Duration: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := extra.Occurrence.ID
	if _, err := s.AddChat(ctx, id, ana.ID, "Ana", "hello"); err != nil {
		t.Fatal(err)
	}
	q, _ := s.AskQuestion(ctx, id, ana.ID, "Ana", "why?")
	if _, err := s.VoteQuestion(ctx, id, q.ID, ana.ID, true); err != nil {
		t.Fatal(err)
	}
	kept, _ := s.AddChat(ctx, occA, ana.ID, "Ana", "stays")
	if _, err := s.DeleteOccurrence(ctx, id, nil); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM live_chat_messages WHERE occurrence_id = $1)
		+ (SELECT count(*) FROM live_questions WHERE occurrence_id = $1)
		+ (SELECT count(*) FROM live_question_votes WHERE question_id = $2)`, id, q.ID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows left after deleting the occurrence: %d %v", n, err)
	}
	if chat, _ := s.ChatHistory(ctx, occA, 0); len(chat) != 1 || chat[0].ID != kept.ID {
		t.Fatalf("another occurrence's chat went too: %+v", chat)
	}
	// The chat of a deleted account stays, without its person.
	if _, err := s.Pool().Exec(ctx, `DELETE FROM people WHERE id = $1`, ana.ID); err != nil {
		t.Fatal(err)
	}
	if chat, _ := s.ChatHistory(ctx, occA, 0); len(chat) != 1 || chat[0].PersonID != 0 || chat[0].AuthorName != "Ana" {
		t.Fatalf("chat of a deleted account: %+v", chat)
	}
}
