package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/store"
)

// A join token's nonce is used once; a used token stays refused until it expires, and is
// purged after that.
func TestUseTokenOnce(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	exp := clk.Now().Add(time.Minute)
	if ok, err := s.UseToken(ctx, "nonce-1", exp); err != nil || !ok {
		t.Fatalf("first use: %v %v", ok, err)
	}
	if ok, err := s.UseToken(ctx, "nonce-1", exp); err != nil || ok {
		t.Fatalf("second use: %v %v", ok, err)
	}

	// Many at once, as from several processes: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			ok, err := s.UseToken(ctx, "nonce-2", exp)
			if err != nil {
				errs <- err
				return
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if wins != 1 {
		t.Fatalf("%d concurrent uses won, want 1", wins)
	}

	// Expired nonces are purged by later uses.
	clk.Add(2 * time.Minute)
	if ok, err := s.UseToken(ctx, "nonce-3", clk.Now().Add(time.Minute)); err != nil || !ok {
		t.Fatalf("third token: %v %v", ok, err)
	}
	var left []string
	rows, err := s.Pool().Query(ctx, `SELECT nonce FROM live_used_tokens ORDER BY nonce`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		left = append(left, n)
	}
	if rows.Err() != nil || !slices.Equal(left, []string{"nonce-3"}) {
		t.Fatalf("used tokens after the purge: %v %v", left, rows.Err())
	}
}

// roomPeople makes the people of a room's rights: an admin, the organiser (from the
// fixture), a speaker, a confirmed attendee (ana), one waitlisted, one who cancelled and a
// stranger.
type roomPeople struct {
	admin, organiser, speaker, ana, waitlisted, cancelled, stranger int64
}

func roomFixture(t *testing.T) (*store.Store, *clock, int64, int64, roomPeople) {
	t.Helper()
	ctx := context.Background()
	s, clk, occA, occB, ana := liveStoreFixture(t)
	l, err := s.OccurrenceByID(ctx, occA)
	if err != nil || len(l.Event.Organisers) != 1 {
		t.Fatalf("occurrence: %v %+v", err, l.Event.Organisers)
	}
	p := roomPeople{organiser: l.Event.Organisers[0], ana: ana.ID}
	person := func(email string, admin bool) int64 {
		x, err := s.CreatePerson(ctx, store.NewPerson{Email: email, Name: email[:3], IsAdmin: admin})
		if err != nil {
			t.Fatal(err)
		}
		return x.ID
	}
	p.admin = person("adm@example.org", true)
	p.speaker = person("spk@example.org", false)
	p.waitlisted = person("wai@example.org", false)
	p.cancelled = person("can@example.org", false)
	p.stranger = person("str@example.org", false)
	if _, err := s.UpdateOccurrence(ctx, occA, func(_ domain.Event, o *domain.Occurrence) error {
		o.Speakers = []domain.Speaker{{Name: "Dra Speaker", Email: "spk@example.org"}, {Name: "No Account"}}
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{p.ana, p.waitlisted, p.cancelled, p.speaker} {
		if r, err := s.Register(ctx, occA, id, store.RegistrationDetails{}, nil); err != nil || r.Registration.Status != store.RegConfirmed {
			t.Fatalf("register: %v %+v", err, r)
		}
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE registrations SET status = 'waitlisted', waitlisted_at = now()
		WHERE occurrence_id = $1 AND person_id = $2`, occA, p.waitlisted); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE registrations SET status = 'cancelled'
		WHERE occurrence_id = $1 AND person_id = $2`, occA, p.cancelled); err != nil {
		t.Fatal(err)
	}
	return s, clk, occA, occB, p
}

func TestRights(t *testing.T) {
	ctx := context.Background()
	s, _, occA, occB, p := roomFixture(t)
	everyone := []int64{p.admin, p.organiser, p.speaker, p.ana, p.waitlisted, p.cancelled, p.stranger, 999999}
	got, err := s.Rights(ctx, occA, everyone)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{p.admin: "host", p.organiser: "host", p.speaker: "speaker", p.ana: "attendee"}
	if !maps.Equal(got, want) {
		t.Fatalf("rights: %v, want %v", got, want)
	}
	// The other talk of the series: the hosts are hosts there too; nobody registered.
	if got, err := s.Rights(ctx, occB, everyone); err != nil || !maps.Equal(got, map[int64]string{p.admin: "host", p.organiser: "host"}) {
		t.Fatalf("rights at the other talk: %v %v", got, err)
	}
	if got, err := s.Rights(ctx, occA, nil); err != nil || len(got) != 0 {
		t.Fatalf("rights of nobody: %v %v", got, err)
	}
	if got, err := s.Rights(ctx, 999999, everyone); err != nil || len(got) != 0 {
		t.Fatalf("rights in no occurrence: %v %v", got, err)
	}
	// Cancelled: only the hosts.
	if _, err := s.Pool().Exec(ctx, `UPDATE occurrences SET status = 'cancelled' WHERE id = $1`, occA); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Rights(ctx, occA, everyone); err != nil || !maps.Equal(got, map[int64]string{p.admin: "host", p.organiser: "host"}) {
		t.Fatalf("rights when cancelled: %v %v", got, err)
	}
}

func loadMember(t *testing.T, s *store.Store, occID, personID int64) (store.LiveRoom, store.LiveMember) {
	t.Helper()
	room, err := s.LoadRoom(context.Background(), occID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range room.Members {
		if m.PersonID == personID {
			return room, m
		}
	}
	t.Fatalf("no member %d in %+v", personID, room)
	return room, store.LiveMember{}
}

func TestSaveMemberAndLoadRoom(t *testing.T) {
	ctx := context.Background()
	s, clk, occA, occB, p := roomFixture(t)
	if room, err := s.LoadRoom(ctx, occA); err != nil || room.Ended || len(room.Members) != 0 {
		t.Fatalf("room never opened: %+v %v", room, err)
	}
	if _, err := s.LoadRoom(ctx, 999999); code(err) != domain.CodeNotFound {
		t.Fatalf("room of no occurrence: %v", err)
	}
	att, err := s.RecordJoin(ctx, occA, p.ana)
	if err != nil {
		t.Fatal(err)
	}
	hash := sha256.Sum256([]byte("resume"))
	ana := store.LiveMember{OccurrenceID: occA, PersonID: p.ana, ParticipantID: "p-ana", Role: store.RoomAttendee,
		Hand: true, AudioMuted: true, ScreenMuted: true, ResumeHash: hash[:], Present: true, AttendanceID: att}
	if err := s.SaveMember(ctx, ana); err != nil {
		t.Fatal(err)
	}
	host := store.LiveMember{OccurrenceID: occA, PersonID: p.organiser, ParticipantID: "p-org", Role: store.RoomHost, Present: true}
	if err := s.SaveMember(ctx, host); err != nil {
		t.Fatal(err)
	}
	room, got := loadMember(t, s, occA, p.ana)
	if len(room.Members) != 2 || room.Ended || got.ParticipantID != "p-ana" || got.Role != "attendee" || !got.Hand ||
		!got.AudioMuted || got.VideoMuted || !got.ScreenMuted || !bytes.Equal(got.ResumeHash, hash[:]) || !got.Present ||
		got.Removed || got.AttendanceID != att || !got.UpdatedAt.Equal(clk.Now()) {
		t.Fatalf("loaded %+v of %+v", got, room)
	}
	if _, h := loadMember(t, s, occA, p.organiser); h.ResumeHash != nil || h.AttendanceID != 0 || h.Role != "host" {
		t.Fatalf("host: %+v", h)
	}

	// Promoted onto the stage: the role stays, the hand goes down.
	clk.Add(time.Minute)
	ana.Role, ana.Hand, ana.AudioMuted = store.RoomSpeaker, false, false
	if err := s.SaveMember(ctx, ana); err != nil {
		t.Fatal(err)
	}
	if _, got := loadMember(t, s, occA, p.ana); got.Role != "speaker" || got.Hand || got.AudioMuted || !got.UpdatedAt.Equal(clk.Now()) {
		t.Fatalf("promoted: %+v", got)
	}
	// Removed by a host: not present, no resume, no open attendance.
	ana.Removed, ana.Present, ana.ResumeHash, ana.AttendanceID = true, false, nil, 0
	if err := s.SaveMember(ctx, ana); err != nil {
		t.Fatal(err)
	}
	if _, got := loadMember(t, s, occA, p.ana); !got.Removed || got.Present || got.ResumeHash != nil || got.AttendanceID != 0 || got.Role != "speaker" {
		t.Fatalf("removed: %+v", got)
	}

	// A participant id is one member's only; unknown people and occurrences are not found.
	if err := s.SaveMember(ctx, store.LiveMember{OccurrenceID: occB, PersonID: p.ana, ParticipantID: "p-org", Role: store.RoomAttendee}); err == nil {
		t.Fatal("a participant id given to a second member")
	}
	if err := s.SaveMember(ctx, store.LiveMember{OccurrenceID: occA, PersonID: 999999, ParticipantID: "p-x", Role: store.RoomAttendee}); code(err) != domain.CodeNotFound {
		t.Fatalf("unknown person: %v", err)
	}
	if err := s.SaveMember(ctx, store.LiveMember{OccurrenceID: 999999, PersonID: p.ana, ParticipantID: "p-y", Role: store.RoomAttendee}); code(err) != domain.CodeNotFound {
		t.Fatalf("unknown occurrence: %v", err)
	}
	if err := s.SaveMember(ctx, store.LiveMember{OccurrenceID: occA, PersonID: p.stranger, ParticipantID: "p-z", Role: store.RoomAttendee, AttendanceID: 999999}); code(err) != domain.CodeNotFound {
		t.Fatalf("unknown attendance: %v", err)
	}
	if err := s.SaveMember(ctx, store.LiveMember{OccurrenceID: occA, PersonID: p.stranger, ParticipantID: "p-z", Role: "owner"}); err == nil {
		t.Fatal("unknown role saved")
	}
}

func TestSetEndedAndPresentRooms(t *testing.T) {
	ctx := context.Background()
	s, _, occA, occB, p := roomFixture(t)
	if ids, err := s.PresentRooms(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("present rooms at first: %v %v", ids, err)
	}
	save := func(occ, person int64, pid string, present, hand bool) {
		t.Helper()
		if err := s.SaveMember(ctx, store.LiveMember{OccurrenceID: occ, PersonID: person, ParticipantID: pid,
			Role: store.RoomAttendee, Present: present, Hand: hand}); err != nil {
			t.Fatal(err)
		}
	}
	save(occA, p.ana, "a-ana", true, true)
	save(occA, p.organiser, "a-org", true, false)
	save(occA, p.stranger, "a-str", false, false)
	save(occB, p.ana, "b-ana", true, false)
	save(occB, p.organiser, "b-org", false, false)
	if ids, err := s.PresentRooms(ctx); err != nil || !slices.Equal(ids, []int64{occA, occB}) {
		t.Fatalf("present rooms: %v %v", ids, err)
	}

	if err := s.SetEnded(ctx, occA, true); err != nil {
		t.Fatal(err)
	}
	room, err := s.LoadRoom(ctx, occA)
	if err != nil || !room.Ended || len(room.Members) != 3 {
		t.Fatalf("ended room: %+v %v", room, err)
	}
	for _, m := range room.Members {
		if m.Present || m.Hand {
			t.Fatalf("member of an ended room: %+v", m)
		}
	}
	if ids, err := s.PresentRooms(ctx); err != nil || !slices.Equal(ids, []int64{occB}) {
		t.Fatalf("present rooms after ending one: %v %v", ids, err)
	}
	if room, _ := s.LoadRoom(ctx, occB); room.Ended {
		t.Fatal("the other room ended too")
	}
	if a, err := s.RoomEnded(ctx, occA); err != nil || !a {
		t.Fatalf("RoomEnded of the ended room: %v %v", a, err)
	}
	if b, err := s.RoomEnded(ctx, occB); err != nil || b {
		t.Fatalf("RoomEnded of the open room: %v %v", b, err)
	}
	if _, err := s.RoomEnded(ctx, 999999); code(err) != domain.CodeNotFound {
		t.Fatalf("RoomEnded of no occurrence: %v", err)
	}
	// Ending again is harmless; reopening clears it and leaves the members as they are.
	if err := s.SetEnded(ctx, occA, true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetEnded(ctx, occA, false); err != nil {
		t.Fatal(err)
	}
	if room, err := s.LoadRoom(ctx, occA); err != nil || room.Ended || len(room.Members) != 3 {
		t.Fatalf("reopened room: %+v %v", room, err)
	}
	if err := s.SetEnded(ctx, 999999, true); code(err) != domain.CodeNotFound {
		t.Fatalf("ending no occurrence: %v", err)
	}
}

func attendanceRow(t *testing.T, s *store.Store, id int64) (joined time.Time, left, seen *time.Time) {
	t.Helper()
	if err := s.Pool().QueryRow(context.Background(), `SELECT joined_at, left_at, seen_at FROM attendance WHERE id = $1`, id).
		Scan(&joined, &left, &seen); err != nil {
		t.Fatal(err)
	}
	return joined, left, seen
}

// Overlapping rows of one person (a resume after a crash, a second device) count once.
func TestAttendanceMergesOverlaps(t *testing.T) {
	ctx := context.Background()
	s, clk, occA, _, p := roomFixture(t)
	l, err := s.OccurrenceByID(ctx, occA)
	if err != nil {
		t.Fatal(err)
	}
	at := func(hm string) time.Time {
		var h, m int
		fmt.Sscanf(hm, "%d:%d", &h, &m)
		return l.Occurrence.Start.Add(time.Duration(h-15)*time.Hour + time.Duration(m)*time.Minute)
	}
	join := func(hm string) int64 {
		t.Helper()
		clk.t = at(hm)
		id, err := s.RecordJoin(ctx, occA, p.ana)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	attended := func() time.Duration {
		t.Helper()
		r, err := s.RegistrationOf(ctx, occA, p.ana)
		if err != nil {
			t.Fatal(err)
		}
		return r.Attended
	}
	first, second := join("15:00"), join("15:20")
	if err := s.RecordLeave(ctx, first, at("15:30")); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordLeave(ctx, second, at("15:40")); err != nil {
		t.Fatal(err)
	}
	clk.t = at("15:45")
	if got := attended(); got != 40*time.Minute {
		t.Fatalf("attended %v, want 40m (15:00–15:30 and 15:20–15:40)", got)
	}
	// A row inside the others adds nothing; a leave is never before its join.
	inner := join("15:05")
	if err := s.RecordLeave(ctx, inner, at("15:01")); err != nil {
		t.Fatal(err)
	}
	if joined, left, _ := attendanceRow(t, s, inner); left == nil || !left.Equal(joined) {
		t.Fatalf("leave before the join: %v %v", joined, left)
	}
	// Closing again changes nothing.
	if err := s.RecordLeave(ctx, first, at("15:50")); err != nil {
		t.Fatal(err)
	}
	if got := attended(); got != 40*time.Minute {
		t.Fatalf("attended %v after an inner row, want 40m", got)
	}
	// An open row counts up to now, and no further than the end (16:00); another person's
	// rows are theirs.
	join("15:50")
	clk.t = at("15:55")
	if got := attended(); got != 45*time.Minute {
		t.Fatalf("attended %v with an open row at 15:55, want 45m", got)
	}
	clk.t = at("17:00")
	if got := attended(); got != 50*time.Minute {
		t.Fatalf("attended %v with an open row after the end, want 50m", got)
	}
	clk.t = at("15:00")
	if _, err := s.RecordJoin(ctx, occA, p.speaker); err != nil {
		t.Fatal(err)
	}
	clk.t = at("17:00")
	if got := attended(); got != 50*time.Minute {
		t.Fatalf("attended %v with another person's row, want 50m", got)
	}
	// A row opened after the end counts nothing (rather than less than nothing).
	join("16:30")
	clk.t = at("16:45")
	if got := attended(); got != 50*time.Minute {
		t.Fatalf("attended %v with a row after the end, want 50m", got)
	}
}

func TestTouchAndCloseOpenAttendance(t *testing.T) {
	ctx := context.Background()
	s, clk, occA, occB, p := roomFixture(t)
	start := clk.Now()
	touched, err := s.RecordJoin(ctx, occA, p.ana)
	if err != nil {
		t.Fatal(err)
	}
	never, err := s.RecordJoin(ctx, occB, p.ana)
	if err != nil {
		t.Fatal(err)
	}
	closed, err := s.RecordJoin(ctx, occA, p.organiser)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordLeave(ctx, closed, start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchAttendance(ctx, nil, start); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchAttendance(ctx, []int64{touched, closed}, start.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A touch never moves back.
	if err := s.TouchAttendance(ctx, []int64{touched}, start.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, left, seen := attendanceRow(t, s, touched); left != nil || seen == nil || !seen.Equal(start.Add(10*time.Minute)) {
		t.Fatalf("touched row: left %v seen %v", left, seen)
	}
	if _, _, seen := attendanceRow(t, s, closed); seen != nil {
		t.Fatalf("a closed row was touched: %v", seen)
	}
	if err := s.SaveMember(ctx, store.LiveMember{OccurrenceID: occA, PersonID: p.ana, ParticipantID: "p-ana",
		Role: store.RoomAttendee, Present: true, AttendanceID: touched}); err != nil {
		t.Fatal(err)
	}

	clk.Add(time.Hour)
	n, err := s.CloseOpenAttendance(ctx)
	if err != nil || n != 2 {
		t.Fatalf("closed %d rows, %v; want 2", n, err)
	}
	if _, left, _ := attendanceRow(t, s, touched); left == nil || !left.Equal(start.Add(10*time.Minute)) {
		t.Fatalf("touched row closed at %v, want its last touch", left)
	}
	if joined, left, _ := attendanceRow(t, s, never); left == nil || !left.Equal(joined) {
		t.Fatalf("untouched row closed at %v, want its join %v", left, joined)
	}
	if _, left, _ := attendanceRow(t, s, closed); left == nil || !left.Equal(start.Add(time.Minute)) {
		t.Fatalf("a closed row changed: %v", left)
	}
	if _, m := loadMember(t, s, occA, p.ana); m.AttendanceID != 0 || !m.Present {
		t.Fatalf("member after closing their row: %+v", m)
	}
	if n, err := s.CloseOpenAttendance(ctx); err != nil || n != 0 {
		t.Fatalf("closed %d rows again, %v", n, err)
	}
	if _, err := s.RecordJoin(ctx, 999999, p.ana); code(err) != domain.CodeNotFound {
		t.Fatalf("join of no occurrence: %v", err)
	}
}

func TestChatSince(t *testing.T) {
	ctx := context.Background()
	s, clk, occA, occB, ana := liveStoreFixture(t)
	var ids []int64
	for i := range 5 {
		m, err := s.AddChat(ctx, occA, ana.ID, "Ana", fmt.Sprintf("m%d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
		clk.Add(time.Second)
		if _, err := s.AddChat(ctx, occB, ana.ID, "Ana", "elsewhere"); err != nil {
			t.Fatal(err)
		}
	}
	texts := func(ms []store.ChatMessage, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var b []byte
		for _, m := range ms {
			b = append(b, m.Text...)
			b = append(b, ' ')
		}
		return string(b)
	}
	if got := texts(s.ChatSince(ctx, occA, ids[1], 2)); got != "m2 m3 " {
		t.Fatalf("since the second, two: %q", got)
	}
	if got := texts(s.ChatSince(ctx, occA, ids[1], 0)); got != "m2 m3 m4 " {
		t.Fatalf("since the second, all: %q", got)
	}
	if got := texts(s.ChatSince(ctx, occA, 0, 10)); got != "m0 m1 m2 m3 m4 " {
		t.Fatalf("since the start: %q", got)
	}
	if got := texts(s.ChatSince(ctx, occA, ids[4], 10)); got != "" {
		t.Fatalf("since the last: %q", got)
	}
}
