package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/puente-org/puente/mail/smtptest"
	"github.com/puente-org/puente/store/pgtest"
)

// An announcement to 300 followers (people made directly in PostgreSQL), the real binary
// SIGKILLed in the middle of delivering it and started again: every one of the 300
// receives exactly one copy, counted by recipient at the SMTP server.
//
// The kill lands mid-send deterministically: the test SMTP server accepts 100 messages and
// holds the 101st at its end of DATA (received, not answered), and the process is killed
// while it waits for that answer. The deliverer sends one message at a time, so at that
// moment the 100 were accepted and marked sent, the held one was not accepted, and the
// rest of its batch is leased. After the restart the others go at once and the leased ones
// when their lease (PUENTE_MAIL_LEASE, 10 s here) ends. The window this cannot cover, a kill
// between the server's acceptance and the outbox marking the row sent, is covered by the
// stable Message-ID (the resend carries the same one; docs/registration.md).
func TestAnnouncementSurvivesSIGKILLMidSend(t *testing.T) {
	skipShort(t, "builds and starts the binary with PostgreSQL and SMTP, and kills it")
	const recipients = 300
	bin := buildBinary(t)
	smtp := smtptest.NewServer(t)
	dbURL := pgtest.NewURL(t)
	env := cleanEnv("PUENTE_DATA_DIR="+dataDir(t), "DATABASE_URL="+dbURL, "SMTP_URL="+smtp.URL(),
		"PUENTE_MAIL_FROM=Puente <seminarios@example.org>", "PUENTE_MAIL_LEASE=10s")
	in := start(t, bin, env)

	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "olga@example.org", "--name", "Olga", "--organiser")
	token := lastLine(runCLI(t, bin, env, 0, "admin", "token", "create", "--email", "olga@example.org"))
	code, body := apiDo(t, "POST", in.baseURL+"/api/v1/series", token, `{"title": "Lithium Seminar", "timezone": "America/Santiago",
		"start_date": "2026-06-04", "start_time": "12:00", "rrule": "FREQ=WEEKLY;COUNT=4"}`)
	if code != 201 {
		t.Fatalf("create series: %d %s", code, body)
	}
	var series struct{ ID int64 }
	if err := json.Unmarshal(body, &series); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// Half read Spanish: the email is rendered for each at delivery, before and after the kill.
	if _, err := pool.Exec(ctx, `WITH made AS (
			INSERT INTO people (email, name, language)
			SELECT 'member' || n || '@example.org', 'Member ' || n, CASE WHEN n % 2 = 0 THEN 'es' ELSE 'en' END
			FROM generate_series(1, $1) n RETURNING id)
		INSERT INTO follows (person_id, event_id) SELECT id, $2 FROM made`, recipients, series.ID); err != nil {
		t.Fatal(err)
	}

	held := smtp.HoldAfter(100)
	code, body = apiDo(t, "POST", fmt.Sprintf("%s/api/v1/series/%d/announcements", in.baseURL, series.ID), token,
		`{"subject": "Call for talks", "body": "Send us your **abstract**.", "audience": "followers"}`)
	if code != 201 || !strings.Contains(string(body), fmt.Sprintf(`"recipients":%d`, recipients)) {
		t.Fatalf("announce: %d %s", code, body)
	}
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatalf("the SMTP server never held a message (%d received)", len(smtp.Messages()))
	}
	if err := in.cmd.Process.Kill(); err != nil { // SIGKILL, mid-send
		t.Fatal(err)
	}
	<-in.done
	before := len(smtp.Messages())
	var sent int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE notice_kind = 'announcement' AND status = 'sent'`).Scan(&sent); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed with %d of %d received, %d marked sent", before, recipients, sent)
	if before != 100 || sent != 100 {
		t.Fatalf("at the kill: %d received, %d marked sent; want 100 of each", before, sent)
	}

	in = start(t, bin, env)
	msgs, err := smtp.WaitForMessages(ctx, recipients)
	if err != nil {
		t.Fatal(err)
	}
	// Every row is marked sent (the server records a message just before its row is
	// marked): nothing is left that could arrive later.
	for {
		var left int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE notice_kind = 'announcement' AND status <> 'sent'`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d announcement emails not sent", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	msgs = smtp.Messages()
	copies := map[string]int{}
	ids := map[string]string{}
	for _, m := range msgs {
		to := m.To[0]
		copies[to]++
		if prev, ok := ids[to]; ok {
			t.Errorf("%s: a second copy (Message-ID %s, then %s)", to, prev, m.Header.Get("Message-Id"))
		}
		ids[to] = m.Header.Get("Message-Id")
		lang := "en"
		var n int
		fmt.Sscanf(to, "member%d@", &n)
		if n%2 == 0 {
			lang = "es"
		}
		if want := map[string]string{"en": "All announcements", "es": "Todos los anuncios"}[lang]; !strings.Contains(m.Text, want) {
			t.Errorf("%s: not in %s:\n%s", to, lang, m.Text)
		}
	}
	for n := 1; n <= recipients; n++ {
		if to := fmt.Sprintf("member%d@example.org", n); copies[to] != 1 {
			t.Errorf("%s received %d copies, want 1", to, copies[to])
		}
	}
	if len(copies) != recipients || len(msgs) != recipients {
		t.Fatalf("%d messages to %d recipients, want %d each", len(msgs), len(copies), recipients)
	}
	in.stop()
}
