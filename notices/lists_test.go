package notices_test

import (
	"context"
	"strings"
	"testing"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// A list email carries List-Id, List-Unsubscribe and List-Unsubscribe-Post (RFC 2369, RFC
// 8058) and a visible footer in the reader's language; its unsubscribe link takes that
// person off that list (and only that list); once off, list mail written before is set
// aside at delivery and new list mail is not written; a suppressed address gets no mail
// but its sign-in links.
func TestListEmail(t *testing.T) {
	p := newPlatform(t, 10)
	ctx := context.Background()
	ana := p.person("ana@example.org", domain.Profile{Name: "Ana", Language: "es", TimeZone: "America/Santiago"})
	list := domain.ListAnnouncements(p.eventID)
	msg := domain.Notice{Kind: domain.NoticeMessage, PersonID: ana.ID, EventID: p.eventID, OccurrenceID: p.occID, List: list,
		Payload: domain.NoticePayload{Subject: "Programme for June", Body: "Three talks this month."}}
	if ok, err := p.st.Enqueue(ctx, msg); err != nil || !ok {
		t.Fatalf("enqueue: %v %v", ok, err)
	}
	m := one(t, p.deliver("ana@example.org"), "list email")
	h := m.Header
	if got := h.Get("List-Id"); !strings.Contains(got, "<"+string(list)+".puente.example.org>") {
		t.Errorf("List-Id: %q", got)
	}
	if got := h.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post: %q", got)
	}
	unsub := h.Get("List-Unsubscribe")
	if !strings.HasPrefix(unsub, "<https://puente.example.org/unsubscribe/plu_") || !strings.HasSuffix(unsub, ">") {
		t.Fatalf("List-Unsubscribe: %q", unsub)
	}
	link := strings.Trim(unsub, "<>")
	if !strings.Contains(m.Text, "Darse de baja de esta lista: "+link) || !strings.Contains(m.Text, "Lithium Seminar") ||
		!strings.Contains(m.Text, "https://puente.example.org/preferences") {
		t.Errorf("the visible footer (in Spanish, with the same link) is missing:\n%s", m.Text)
	}
	if m.HTML != "" && !strings.Contains(m.HTML, `href="`+link+`"`) {
		t.Errorf("the HTML part has no unsubscribe link")
	}
	// The outbox keeps the headers sent (the local mailbox shows them).
	box, err := p.st.Mailbox(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := p.st.MailboxMessageByID(ctx, box[0].ID)
	if err != nil || kept.Headers["List-Unsubscribe"] != unsub {
		t.Errorf("headers kept: %v %v", kept.Headers, err)
	}

	// A second list email is written before Ana leaves; she leaves with the first link.
	if ok, err := p.st.Enqueue(ctx, msg); err != nil || !ok {
		t.Fatalf("enqueue: %v %v", ok, err)
	}
	token := strings.TrimPrefix(link, "https://puente.example.org/unsubscribe/")
	left, err := p.st.LeaveListByToken(ctx, domain.HashSecret(token))
	if err != nil || left.PersonID != ana.ID || left.List != list {
		t.Fatalf("leave: %+v %v", left, err)
	}
	if got := p.deliver("ana@example.org"); len(got) != 0 {
		t.Errorf("list email delivered after leaving: %d", len(got))
	}
	if ok, err := p.st.Enqueue(ctx, msg); err != nil || ok {
		t.Errorf("list email written after leaving: %v %v", ok, err)
	}
	// Other lists, and her own registration's email, are not affected.
	other := msg
	other.List = domain.ListFollowUpdates
	if ok, err := p.st.Enqueue(ctx, other); err != nil || !ok {
		t.Errorf("another list: %v %v", ok, err)
	}
	if _, err := p.st.Register(ctx, p.occID, ana.ID, store.RegistrationDetails{Name: "Ana"}, &store.Notify{By: ana.ID}); err != nil {
		t.Fatal(err)
	}
	if got := p.deliver("ana@example.org"); len(got) != 2 {
		t.Errorf("other list and registration: %d emails", len(got))
	}

	// A forged token is not found; a used one again changes nothing.
	if _, err := p.st.LeaveListByToken(ctx, domain.HashSecret("plu_forged")); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Errorf("forged token: %v", err)
	}
	if again, err := p.st.LeaveListByToken(ctx, domain.HashSecret(token)); err != nil || !again.Used {
		t.Errorf("reused token: %+v %v", again, err)
	}

	// Suppressed (a bounce): nothing more, not even transactional notices; sign-in links still go.
	if err := p.st.Suppress(ctx, "Ana@Example.org", "bounce", "550 mailbox unavailable"); err != nil {
		t.Fatal(err)
	}
	if ok, err := p.st.Enqueue(ctx, other); err != nil || ok {
		t.Errorf("list email to a suppressed address written: %v %v", ok, err)
	}
	if _, _, err := p.st.CancelRegistration(ctx, p.occID, ana.ID, &store.Notify{By: ana.ID}); err != nil {
		t.Fatal(err)
	}
	if got := p.deliver("ana@example.org"); len(got) != 0 {
		t.Errorf("email to a suppressed address: %d", len(got))
	}
	if was, err := p.st.Unsuppress(ctx, "ana@example.org"); err != nil || !was {
		t.Errorf("unsuppress: %v %v", was, err)
	}
	if ok, err := p.st.Enqueue(ctx, other); err != nil || !ok {
		t.Errorf("after unsuppress: %v %v", ok, err)
	}
}
