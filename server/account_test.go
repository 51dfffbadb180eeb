package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// What identifies the person who leaves: each must be gone from every column once the
// account is deleted.
const (
	leaverEmail       = "leila.quispe@salar.example"
	leaverName        = "Leila Quispe Mamani"
	leaverAffiliation = "Instituto del Salar de Uyuni"
)

// A person with data in every feature downloads it all, deletes their account, and then
// nothing in the database names them or points at them, while the organisers' counts are
// what they were.
func TestAccountExportAndDeletionLeaveNoTrace(t *testing.T) {
	p := newProgEnv(t)
	ctx := context.Background()
	db := p.store.Pool()

	// The person signs in with the browser and fills in their profile.
	c := p.env.browser("en")
	c.signIn(leaverEmail)
	c.get("/profile") // the form's CSRF token, of the new session
	if r := c.post("/profile", url.Values{"name": {leaverName}, "affiliation": {leaverAffiliation}, "country": {"BO"},
		"career_stage": {"early_career"}, "language": {"es"}, "time_zone": {"America/La_Paz"}}); r.status != http.StatusSeeOther {
		t.Fatalf("save profile: %d %s", r.status, r.body)
	}
	me, err := p.store.PersonByEmail(ctx, leaverEmail)
	if err != nil {
		t.Fatal(err)
	}
	secret, hash := domain.NewSecret(domain.PrefixAPIToken)
	if _, err := p.store.CreateAPIToken(ctx, me.ID, "Laptop script", hash); err != nil {
		t.Fatal(err)
	}
	p.tokens["leaver"], p.ids["leaver"] = secret, me.ID

	// A series with a question of its own, three sessions; two others register too.
	s := p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Brine Chemistry Seminar", "timezone": "America/La_Paz",
		"start_date": "2026-02-05", "start_time": "11:00", "rrule": "FREQ=WEEKLY;COUNT=3", "capacity": 10, "tags": []string{"dle"},
		"questions": []map[string]any{{"id": "q1", "label": "What do you work on?", "kind": "text"}}})
	seriesPath := fmt.Sprintf("/api/v1/series/%v", s["id"])
	eventID := int64(s["id"].(float64))
	occs := items(t, p.must(200, "", "GET", seriesPath+"/occurrences?from=2026-02-01&to=2026-03-31", nil))
	first := int64(occs[0]["id"].(float64))
	occPath := fmt.Sprintf("/api/v1/occurrences/%d", first)
	others := p.addPeople(2)
	for _, role := range others {
		p.must(201, role, "POST", occPath+"/registrations", nil)
	}
	// The person registers for the first session with their own details, and for the
	// whole series (which registers them for the other sessions).
	p.must(201, "leaver", "POST", occPath+"/registrations", map[string]any{"name": leaverName, "affiliation": leaverAffiliation,
		"consent_contact": true, "answers": map[string]any{"q1": "Lithium brines at " + leaverAffiliation}})
	p.must(201, "leaver", "POST", seriesPath+"/registrations", nil)
	// Follows: the series, and a topic.
	if r := c.post(fmt.Sprintf("/events/%d/follow", eventID), url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("follow: %d %s", r.status, r.body)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO topic_follows (person_id, tag, created_at) VALUES ($1, 'recycling', now())`, me.ID)
	exec(`INSERT INTO list_optouts (person_id, list_id, created_at) VALUES ($1, 'follow-updates', now())`, me.ID)
	exec(`INSERT INTO list_tokens (hash, person_id, list_id, created_at, expires_at) VALUES ('\xabcd', $1, 'weekly-digest', now(), now() + interval '1 day')`, me.ID)
	exec(`UPDATE people SET weekly_digest = true WHERE id = $1`, me.ID)
	exec(`INSERT INTO mail_suppressions (email, reason, detail, created_at) VALUES (lower($1), 'bounce', 'mailbox full: ' || $1, now())`, leaverEmail)
	// In the live room: a chat message, a question, a vote on someone else's question,
	// attendance and a member's standing.
	if _, err := p.store.RecordJoin(ctx, first, me.ID); err != nil {
		t.Fatal(err)
	}
	exec(`INSERT INTO live_members (occurrence_id, person_id, participant_id, role) VALUES ($1, $2, 'p-leaver', 'attendee')`, first, me.ID)
	if _, err := p.store.AddChat(ctx, first, me.ID, leaverName, "Hola from "+leaverAffiliation); err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.AskQuestion(ctx, first, me.ID, leaverName, "How do you scale DLE?"); err != nil {
		t.Fatal(err)
	}
	theirs, err := p.store.AskQuestion(ctx, first, p.ids[others[0]], "Person", "And the water use?")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.VoteQuestion(ctx, first, theirs.ID, me.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.VoteQuestion(ctx, first, theirs.ID, p.ids[others[1]], true); err != nil {
		t.Fatal(err)
	}
	// A speaker entry linked by email (the person is told by email), with a photo, on the
	// second session.
	second := int64(occs[1]["id"].(float64))
	p.must(200, "organiser", "PATCH", fmt.Sprintf("/api/v1/occurrences/%d", second), map[string]any{"title": "Direct lithium extraction",
		"speakers": []map[string]any{{"name": leaverName, "affiliation": leaverAffiliation, "bio": leaverName + " studies brines.",
			"email": strings.ToUpper(leaverEmail)}, {"name": "Tomás Rivera"}}})
	if _, err := p.store.SetSpeakerPhoto(ctx, second, 0, []byte("\xff\xd8 a photo of "+leaverName), 1, 1); err != nil {
		t.Fatal(err)
	}
	// An email to them still waiting (an organiser's message), and ones already sent.
	exec(`INSERT INTO outbox (kind, to_address, subject, text_body, status) VALUES ('message', $1, 'Hello ' || $2, 'Dear ' || $2, 'pending')`,
		leaverEmail, leaverName)

	// Listed in the directory, and a message written through it to another listed member.
	p.must(200, "leaver", "PATCH", "/api/v1/me", map[string]any{"directory": map[string]any{"listed": true,
		"visible": []string{"name", "affiliation", "bio"}, "bio": leaverName + " works on brines.", "topics": []string{"dle"}}})
	p.must(200, others[0], "PATCH", "/api/v1/me", map[string]any{"directory": map[string]any{"listed": true, "visible": []string{"name"}}})
	p.must(202, "leaver", "POST", fmt.Sprintf("/api/v1/directory/%d/messages", p.ids[others[0]]), map[string]any{
		"subject": "Exchange visit", "body": "Hello, I am " + leaverName + " from " + leaverAffiliation + "."})

	// A copy kept of an email to someone else that names them.
	exec(`INSERT INTO outbox (kind, to_address, subject, text_body, html_body, status, sent_at) VALUES ('reminder', 'person000@example.org',
		'Tomorrow', 'Talk by ' || $1 || ' (' || $2 || ')', '<p>Talk by ' || $1 || '</p>', 'sent', now())`, leaverName, leaverAffiliation)

	// What the organiser sees before.
	before := p.must(200, "organiser", "GET", occPath+"/registrations", nil)
	seriesBefore := p.must(200, "organiser", "GET", seriesPath+"/registrations", nil)
	takenBefore, err := p.store.PlacesTaken(ctx, []int64{first, second})
	if err != nil {
		t.Fatal(err)
	}
	if got := before["counts"].(map[string]any)["confirmed"]; got != float64(3) {
		t.Fatalf("confirmed before: %v", before)
	}

	// The export: one JSON file to download, with every kind of data and no secret.
	code, raw := p.send("leaver", "GET", "/api/v1/me/export", nil)
	if code != 200 {
		t.Fatalf("export: %d %s", code, raw)
	}
	res := c.get("/profile/export")
	if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Disposition"), "attachment;") ||
		!strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		t.Fatalf("export from the profile page: %d %v", res.status, res.header)
	}
	var x map[string]any
	if err := json.Unmarshal(raw, &x); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, raw)
	}
	if strings.Contains(string(raw), secret) || strings.Contains(string(raw), "token_hash") || strings.Contains(string(raw), "hash") {
		t.Fatalf("the export holds a secret or a hash:\n%s", raw)
	}
	list := func(name string) []any {
		t.Helper()
		l, ok := x[name].([]any)
		if !ok {
			t.Fatalf("export has no list %q: %v", name, x[name])
		}
		return l
	}
	has := func(name, field string, want any) {
		t.Helper()
		for _, it := range list(name) {
			if it.(map[string]any)[field] == want {
				return
			}
		}
		t.Errorf("export %s: no %s = %v in %v", name, field, want, x[name])
	}
	if prof := x["profile"].(map[string]any); prof["email"] != leaverEmail || prof["name"] != leaverName || prof["affiliation"] != leaverAffiliation {
		t.Errorf("export profile: %v", prof)
	}
	if roles := x["roles"].(map[string]any); roles["site_admin"] != false || roles["organiser"] != false {
		t.Errorf("export roles: %v", roles)
	}
	has("api_tokens", "name", "Laptop script")
	has("registrations", "name", leaverName)
	has("registrations", "session", "Direct lithium extraction")
	if n := len(list("registrations")); n != 3 {
		t.Errorf("export: %d registrations, want 3 (one by hand, two through the series)", n)
	}
	for _, r := range list("registrations") {
		if r := r.(map[string]any); r["occurrence_id"] == float64(first) && r["answers"].(map[string]any)["q1"] != "Lithium brines at "+leaverAffiliation {
			t.Errorf("export: the answers given: %v", r)
		}
	}
	has("event_registrations", "title", "Brine Chemistry Seminar")
	has("follows", "title", "Brine Chemistry Seminar")
	has("topic_follows", "tag", "recycling")
	has("chat_messages", "text", "Hola from "+leaverAffiliation)
	has("questions", "text", "How do you scale DLE?")
	has("question_votes", "question", "And the water use?")
	has("attendance", "occurrence_id", float64(first))
	has("live_rooms", "role", "attendee")
	has("list_optouts", "list_id", "follow-updates")
	if d, ok := x["directory_entry"].(map[string]any); !ok || d["bio"] != leaverName+" works on brines." || d["listed"] != true {
		t.Errorf("export directory entry: %v", x["directory_entry"])
	}
	if n := len(list("directory_messages_sent")); n != 1 {
		t.Errorf("export: %d directory messages sent, want 1", n)
	}
	has("speaker_entries", "bio", leaverName+" studies brines.")
	has("emails", "subject", "Hello "+leaverName)
	has("emails", "kind", string(domain.NoticeSpeakerAdded))
	has("browser_sessions", "expires_at", list("browser_sessions")[0].(map[string]any)["expires_at"])
	if d := x["weekly_digest"].(map[string]any); d["opted_in"] != true {
		t.Errorf("export weekly digest: %v", d)
	}
	if _, ok := x["personal_feed"].(map[string]any); !ok {
		t.Errorf("export personal feed: %v", x["personal_feed"])
	}

	// Nobody else's export: an anonymous request is refused, and another person's holds
	// none of this person's data.
	if code, _ := p.send("", "GET", "/api/v1/me/export", nil); code != http.StatusUnauthorized {
		t.Fatalf("anonymous export: %d", code)
	}
	// (others[0] received a message through the directory: its subject names the sender,
	// as the email did; others[1] has nothing to do with them.)
	if _, other := p.send(others[1], "GET", "/api/v1/me/export", nil); strings.Contains(string(other), leaverEmail) ||
		strings.Contains(string(other), leaverName) {
		t.Fatalf("another person's export holds the leaver's data:\n%s", other)
	}

	// Deleting: the page says what happens; the form needs its CSRF token and the box.
	page := c.get("/profile/delete")
	if page.status != 200 || !strings.Contains(page.body, `id="account-delete-form"`) || !strings.Contains(page.body, leaverEmail) {
		t.Fatalf("confirmation page: %d %s", page.status, page.body)
	}
	if r := c.post("/profile/delete", url.Values{"confirm": {"1"}, "_csrf": {"forged"}}); r.status != http.StatusForbidden {
		t.Fatalf("delete without the CSRF token: %d", r.status)
	}
	if r := c.post("/profile/delete", url.Values{}); r.status != http.StatusBadRequest || !strings.Contains(r.body, "account-confirm-error") {
		t.Fatalf("delete without ticking the box: %d %s", r.status, r.body)
	}
	if _, err := p.store.PersonByID(ctx, me.ID); err != nil {
		t.Fatalf("the account went before it was confirmed: %v", err)
	}
	r := c.post("/profile/delete", url.Values{"confirm": {"1"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if home := c.get("/"); !strings.Contains(home.body, "Your account has been deleted") {
		t.Errorf("no word that the account was deleted: %s", home.body)
	}
	// The browser is signed out and its session is gone; the API token is refused.
	if r := c.get("/profile"); r.status == 200 {
		t.Fatalf("the profile still opens after deletion: %d", r.status)
	}
	if code, _ := p.send("leaver", "GET", "/api/v1/me", nil); code != http.StatusUnauthorized {
		t.Fatalf("the token still works: %d", code)
	}

	// Nothing left: no text, varchar, json, jsonb or bytea column of any table holds the
	// email, the name or the affiliation, and no column that points at people holds the id.
	for _, mark := range []string{leaverEmail, leaverName, leaverAffiliation} {
		if found := searchEveryColumn(t, db, mark); len(found) > 0 {
			t.Errorf("%q is still in %v", mark, found)
		}
	}
	if found := referencesTo(t, db, me.ID); len(found) > 0 {
		t.Errorf("rows still point at person %d: %v", me.ID, found)
	}

	var kept int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE to_address = 'person000@example.org' AND subject = 'Tomorrow'
		AND text_body = '' AND bodies_dropped_at IS NOT NULL`).Scan(&kept); err != nil || kept != 1 {
		t.Errorf("the copy of an email to someone else that named them: %d %v", kept, err)
	}

	// The organiser's counts are what they were; the places taken too.
	after := p.must(200, "organiser", "GET", occPath+"/registrations", nil)
	seriesAfter := p.must(200, "organiser", "GET", seriesPath+"/registrations", nil)
	if fmt.Sprint(after["counts"]) != fmt.Sprint(before["counts"]) || len(items(t, after)) != len(items(t, before)) ||
		fmt.Sprint(seriesAfter["counts"]) != fmt.Sprint(seriesBefore["counts"]) {
		t.Errorf("counts changed: %v → %v; series %v → %v", before["counts"], after["counts"], seriesBefore["counts"], seriesAfter["counts"])
	}
	takenAfter, err := p.store.PlacesTaken(ctx, []int64{first, second})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(takenAfter) != fmt.Sprint(takenBefore) {
		t.Errorf("places taken: %v → %v", takenBefore, takenAfter)
	}
	var rowsTaken int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM registrations WHERE occurrence_id = $1 AND status IN ('confirmed', 'held')`,
		first).Scan(&rowsTaken); err != nil || rowsTaken != takenAfter[first] {
		t.Errorf("the count of places (%d) disagrees with the rows (%d): %v", takenAfter[first], rowsTaken, err)
	}
	// The organiser's page shows the anonymous place as a deleted account's, with no way
	// to move it.
	org := p.env.browser("en")
	org.signIn("organiser@example.org")
	page = org.get(fmt.Sprintf("/organise/occurrences/%d/registrations", first))
	if page.status != 200 || strings.Count(page.body, "Deleted account") != 1 || strings.Count(page.body, `/move"`) != 2 {
		t.Errorf("the organiser's page after deletion: %d, %d anonymous, %d move forms", page.status,
			strings.Count(page.body, "Deleted account"), strings.Count(page.body, `/move"`))
	}
	// The other question lost the vote, not its other one; the talk kept its other speaker.
	if qs, _ := p.store.LiveQuestions(ctx, first); len(qs) != 1 || qs[0].Votes != 1 {
		t.Errorf("questions after deletion: %+v", qs)
	}
	occ := p.must(200, "", "GET", fmt.Sprintf("/api/v1/occurrences/%d", second), nil)
	if sp := occ["speakers"].([]any); len(sp) != 1 || sp[0].(map[string]any)["name"] != "Tomás Rivera" || occ["title"] != "Direct lithium extraction" {
		t.Errorf("the talk after deletion: %v", occ)
	}

	// Signing in again with the same address makes a new, empty account.
	again := p.env.browser("en")
	again.signIn(leaverEmail)
	fresh, err := p.store.PersonByEmail(ctx, leaverEmail)
	if err != nil || fresh.ID == me.ID || fresh.Profile.Name != "" || fresh.Profile.Affiliation != "" {
		t.Fatalf("signing in again: %+v %v", fresh, err)
	}
	if regs, _ := p.store.Registrations(ctx, store.RegistrationFilter{PersonID: fresh.ID}); len(regs) != 0 {
		t.Errorf("the new account has registrations: %+v", regs)
	}
}

// searchEveryColumn looks for mark (case-insensitively) in every text, varchar, char, json,
// jsonb and bytea column, and every array of them, of every table in the public schema,
// as the schema is now: tables added by later migrations are searched too.
func searchEveryColumn(t *testing.T, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}, mark string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Query(ctx, `SELECT c.table_name, c.column_name, c.data_type, c.udt_name FROM information_schema.columns c
		JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
		WHERE c.table_schema = 'public' AND tb.table_type = 'BASE TABLE'
		  AND (c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea')
		       OR (c.data_type = 'ARRAY' AND c.udt_name IN ('_text', '_varchar', '_bpchar', '_json', '_jsonb')))
		ORDER BY c.table_name, c.column_name`)
	if err != nil {
		t.Fatal(err)
	}
	type column struct{ table, name, kind, udt string }
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (column, error) {
		var c column
		err := r.Scan(&c.table, &c.name, &c.kind, &c.udt)
		return c, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) < 50 {
		t.Fatalf("only %d columns to search: the schema query is wrong", len(cols))
	}
	var found []string
	for _, c := range cols {
		cond := fmt.Sprintf(`strpos(lower(%s::text), lower($1)) > 0`, pgx.Identifier{c.name}.Sanitize())
		if c.kind == "bytea" { // the bytes as they are, and as text if they are text
			cond = fmt.Sprintf(`position(convert_to($1, 'UTF8') IN %[1]s) > 0 OR position(convert_to(lower($1), 'UTF8') IN %[1]s) > 0`,
				pgx.Identifier{c.name}.Sanitize())
		}
		var n int
		q := fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s`, pgx.Identifier{c.table}.Sanitize(), cond)
		if err := db.QueryRow(ctx, q, mark).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n > 0 {
			found = append(found, fmt.Sprintf("%s.%s (%d rows)", c.table, c.name, n))
		}
	}
	return found
}

// referencesTo lists the columns that still hold id where they point at a person: every
// column with a foreign key to people, and every integer column named person_id or ending
// in _person_id (such as outbox.person_id, which has no foreign key).
func referencesTo(t *testing.T, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}, id int64) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Query(ctx, `
		SELECT DISTINCT rel.relname::text, att.attname::text
		  FROM pg_constraint con
		  JOIN pg_class rel ON rel.oid = con.conrelid
		  JOIN pg_namespace ns ON ns.oid = rel.relnamespace
		  JOIN unnest(con.conkey) k(attnum) ON true
		  JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.attnum
		 WHERE con.contype = 'f' AND con.confrelid = 'public.people'::regclass AND ns.nspname = 'public'
		UNION
		SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c
		  JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
		 WHERE c.table_schema = 'public' AND tb.table_type = 'BASE TABLE'
		   AND c.data_type IN ('bigint', 'integer') AND (c.column_name = 'person_id' OR c.column_name LIKE '%\_person\_id')
		UNION SELECT 'people', 'id'
		ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	type column struct{ table, name string }
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (column, error) {
		var c column
		err := r.Scan(&c.table, &c.name)
		return c, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) < 10 {
		t.Fatalf("only %d columns pointing at people: the schema query is wrong", len(cols))
	}
	var found []string
	for _, c := range cols {
		var n int
		q := fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s = $1`, pgx.Identifier{c.table}.Sanitize(), pgx.Identifier{c.name}.Sanitize())
		if err := db.QueryRow(ctx, q, id).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n > 0 {
			found = append(found, fmt.Sprintf("%s.%s (%d rows)", c.table, c.name, n))
		}
	}
	return found
}

// DELETE /api/v1/me deletes the account of the token's owner, and only theirs; refusals
// say what to do first, on the API and on the confirmation page.
func TestAccountDeletionThroughAPIAndRefusals(t *testing.T) {
	p := newProgEnv(t)
	ctx := context.Background()
	if code, _ := p.send("", "DELETE", "/api/v1/me", nil); code != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", code)
	}
	// The last site admin.
	code, out := p.call("admin", "DELETE", "/api/v1/me", nil)
	if code != http.StatusConflict || !strings.Contains(fmt.Sprint(out), "last site admin") {
		t.Fatalf("last admin: %d %v", code, out)
	}
	// The only organiser of a series: named, with what to do.
	p.must(201, "organiser", "POST", "/api/v1/series", map[string]any{"title": "Cathode Materials Forum", "timezone": "UTC",
		"start_date": "2026-02-05", "start_time": "15:00", "rrule": "FREQ=WEEKLY;COUNT=2"})
	code, out = p.call("organiser", "DELETE", "/api/v1/me", nil)
	if code != http.StatusConflict || !strings.Contains(fmt.Sprint(out), "Cathode Materials Forum") {
		t.Fatalf("only organiser: %d %v", code, out)
	}
	b := p.env.browser("es")
	b.signIn("organiser@example.org")
	page := b.get("/profile/delete")
	if page.status != 200 || !strings.Contains(page.body, `id="account-delete-blocked"`) || !strings.Contains(page.body, "Cathode Materials Forum") ||
		strings.Contains(page.body, `id="account-delete-form"`) || !strings.Contains(page.body, "Eliminar mi cuenta") {
		t.Fatalf("the confirmation page of the only organiser: %d %s", page.status, page.body)
	}
	if r := b.post("/profile/delete", url.Values{"confirm": {"1"}}); r.status != http.StatusConflict || !strings.Contains(r.body, "Cathode Materials Forum") {
		t.Fatalf("deleting the only organiser from the page: %d", r.status)
	}
	// With a session cookie, the API wants the CSRF token too.
	if r := b.do("DELETE", "/api/v1/me", nil, nil); r.status != http.StatusForbidden {
		t.Fatalf("API deletion with a cookie and no CSRF token: %d", r.status)
	}
	// Someone else's token deletes only them.
	other := p.ids["attendee"]
	if code, raw := p.send("attendee", "DELETE", "/api/v1/me", nil); code != http.StatusNoContent || len(raw) != 0 {
		t.Fatalf("delete by token: %d %s", code, raw)
	}
	if _, err := p.store.PersonByID(ctx, other); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("the account is still there: %v", err)
	}
	for _, role := range []string{"admin", "organiser", "other"} {
		if _, err := p.store.PersonByID(ctx, p.ids[role]); err != nil {
			t.Fatalf("%s went too: %v", role, err)
		}
	}
	if code, _ := p.send("attendee", "GET", "/api/v1/me", nil); code != http.StatusUnauthorized {
		t.Fatalf("the deleted account's token: %d", code)
	}
}
