package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// The limits on directory messages are counted in the database: an hour's allowance,
// then the next hour's, up to the daily cap, which holds even when the last hour is quiet;
// concurrent sends cannot pass them together.
func TestContactLimits(t *testing.T) {
	st, clk := newStore(t)
	ctx := context.Background()
	sender, err := st.CreatePerson(ctx, store.NewPerson{Email: "sofia@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	to, err := st.CreatePerson(ctx, store.NewPerson{Email: "rodrigo@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	msg := domain.ContactMessage{Subject: "Hello", Body: "Hello"}
	if err := st.SendContact(ctx, sender.ID, to.ID, msg); code(err) != domain.CodeNotFound {
		t.Fatalf("to someone without an entry: %v", err)
	}
	if err := st.SaveDirectoryEntry(ctx, to.ID, domain.DirectoryEntry{Listed: true}); err != nil {
		t.Fatal(err)
	}
	// The first hour: concurrent sends, of which exactly the allowance passes.
	var wg sync.WaitGroup
	errs := make(chan error, 2*domain.ContactsPerHour)
	for range 2 * domain.ContactsPerHour {
		wg.Go(func() { errs <- st.SendContact(ctx, sender.ID, to.ID, msg) })
	}
	wg.Wait()
	close(errs)
	sent, limited := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			sent++
		case code(err) == domain.CodeRateLimited:
			limited++
		default:
			t.Fatal(err)
		}
	}
	if sent != domain.ContactsPerHour || limited != domain.ContactsPerHour {
		t.Fatalf("concurrent sends: %d sent, %d limited", sent, limited)
	}
	for sent < domain.ContactsPerDay {
		clk.Add(61 * time.Minute)
		for range domain.ContactsPerHour {
			if err := st.SendContact(ctx, sender.ID, to.ID, msg); err != nil {
				t.Fatalf("message %d: %v", sent+1, err)
			}
			sent++
		}
	}
	clk.Add(61 * time.Minute)
	err = st.SendContact(ctx, sender.ID, to.ID, msg)
	if de, ok := domain.AsError(err); !ok || de.ID != "err.directory.contact_daily" {
		t.Fatalf("over the daily cap: %v", err)
	}
	clk.Add(24 * time.Hour)
	if err := st.SendContact(ctx, sender.ID, to.ID, msg); err != nil {
		t.Fatalf("the next day: %v", err)
	}
	// Leaving the directory's mailing list (the preferences page, an unsubscribe link)
	// refuses messages with a reason; leaving the directory stops them at once.
	if _, err := st.Pool().Exec(ctx, `INSERT INTO list_optouts (person_id, list_id, created_at) VALUES ($1, $2, now())`,
		to.ID, string(domain.ListContact)); err != nil {
		t.Fatal(err)
	}
	if err := st.SendContact(ctx, sender.ID, to.ID, msg); code(err) != domain.CodeForbidden {
		t.Fatalf("to someone who left the list: %v", err)
	}
	if err := st.SaveDirectoryEntry(ctx, to.ID, domain.DirectoryEntry{Listed: false}); err != nil {
		t.Fatal(err)
	}
	if err := st.SendContact(ctx, sender.ID, to.ID, msg); code(err) != domain.CodeNotFound {
		t.Fatalf("to someone who left the directory: %v", err)
	}
}

// A person's directory entry and the record of messages they sent or received go with
// their account.
func TestDirectoryRowsGoWithThePerson(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	a, _ := st.CreatePerson(ctx, store.NewPerson{Email: "a@example.org"})
	b, _ := st.CreatePerson(ctx, store.NewPerson{Email: "b@example.org"})
	for _, p := range []domain.Person{a, b} {
		if err := st.SaveDirectoryEntry(ctx, p.ID, domain.DirectoryEntry{Listed: true, Topics: []string{"lithium"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SendContact(ctx, a.ID, b.ID, domain.ContactMessage{Subject: "Hi", Body: "Hi"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `DELETE FROM people WHERE id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	var entries, contacts int
	if err := st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM directory_entries WHERE person_id = $1),
		(SELECT count(*) FROM directory_contacts)`, a.ID).Scan(&entries, &contacts); err != nil {
		t.Fatal(err)
	}
	if entries != 0 || contacts != 0 {
		t.Errorf("left behind: %d entries, %d contacts", entries, contacts)
	}
}
