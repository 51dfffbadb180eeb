package loadtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Restart is the scenario of a server crash during a room (issue 13): a host publishing, an
// attendee the host invites onto the stage who then publishes, N viewers (one with a raised
// hand) and chat flowing; halfway through, the server is killed with SIGKILL and started
// again on the same data and ports, and everyone comes back by themselves (resume).
const Restart = "restart"

// DefaultResumeTimeout is how long RunRestart waits for everyone to be back after the
// restart before it gives up and reports who is not.
const DefaultResumeTimeout = 30 * time.Second

// RestartResult is the restart scenario's figures (the JSON line of cmd/puente-bench).
type RestartResult struct {
	Scenario string `json:"scenario"`
	Viewers  int    `json:"viewers"`
	// Clients is everyone in the room: the host, the promoted speaker and the viewers.
	Clients          int     `json:"clients"`
	ViewersConnected int     `json:"viewers_connected"` // viewers that received media before the crash
	JoinMsP50        float64 `json:"join_ms_p50"`
	JoinMsP95        float64 `json:"join_ms_p95"`
	DurationS        float64 `json:"duration_s"`
	// ServerDownMs is from the SIGKILL to the restarted server's /readyz answering 200.
	ServerDownMs float64 `json:"server_down_ms"`
	// ResumedViewers are viewers back in the room with the same participant id (resumed);
	// ResumedClients counts everyone so (host and speaker too).
	ResumedViewers int `json:"resumed_viewers"`
	ResumedClients int `json:"resumed_clients"`
	// RejoinedClients came back with a new join token after their resume was refused.
	RejoinedClients int `json:"rejoined_clients"`
	// MediaBackViewers received media again after the restart; ResumeMs* are, over them,
	// from the restarted server's /readyz answering 200 to each one's first media packet.
	MediaBackViewers int     `json:"media_back_viewers"`
	ResumeMsP50      float64 `json:"resume_ms_p50"`
	ResumeMsP95      float64 `json:"resume_ms_p95"`
	ResumeMsMax      float64 `json:"resume_ms_max"`
	// MediaAllBackViewers received media again from both publishers (the host and the
	// promoted speaker); ResumeAllMs* are, over them, from /readyz to the later of the two.
	MediaAllBackViewers int     `json:"media_all_back_viewers"`
	ResumeAllMsP50      float64 `json:"resume_all_ms_p50"`
	ResumeAllMsP95      float64 `json:"resume_all_ms_p95"`
	// BackMsMax is the longest time from /readyz to a client's welcome again (everyone).
	BackMsMax float64 `json:"back_ms_max"`
	// RolesKept is true when, after the restart, the promoted speaker is a speaker (in its
	// own welcome and in everyone else's participant list) and the raised hand is still
	// raised (likewise).
	RolesKept bool `json:"roles_kept"`
	// ChatSent is chat messages written to a websocket; ChatStored those the server kept
	// (and so broadcast): messages sent while it was down do not count. ChatLost is, summed
	// over clients, stored messages a client never received; ChatDuplicated, messages a
	// client received more than once (extra copies); ChatUnknown, ids a client received
	// that the server has not stored.
	ChatSent       int64    `json:"chat_sent"`
	ChatStored     int      `json:"chat_stored"`
	ChatLost       int      `json:"chat_lost"`
	ChatDuplicated int      `json:"chat_duplicated"`
	ChatUnknown    int      `json:"chat_unknown"`
	Errors         []string `json:"errors,omitempty"`
}

// member is one client of the restart scenario.
type member struct {
	name   string
	client *Client
	id     string // participant id before the crash
	pub    *publisher
}

// RunRestart runs the restart scenario: o.Viewers viewers, o.Duration of chat (half before
// the crash, half after everyone is back), the server started here (o.ServerBinary, or this
// executable) on o.DatabaseURL or a private PostgreSQL.
func RunRestart(ctx context.Context, o Options) (RestartResult, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res := RestartResult{Scenario: Restart, Viewers: o.Viewers, Clients: o.Viewers + 2}
	if o.URL != "" {
		return res, errors.New("the restart scenario kills and restarts the server it starts itself: leave out --url")
	}
	if o.Viewers < 1 {
		return res, errors.New("the restart scenario needs at least one viewer (one raises a hand): set --viewers to 1 or more")
	}
	resumeTimeout := o.ResumeTimeout
	if resumeTimeout <= 0 {
		resumeTimeout = DefaultResumeTimeout
	}
	srv, err := StartServerWith(ctx, ServerOptions{DatabaseURL: o.DatabaseURL, Binary: o.ServerBinary, FixedUDPPort: true, Log: log})
	if err != nil {
		return res, err
	}
	defer srv.Close()
	fail := func(err error) (RestartResult, error) {
		return res, fmt.Errorf("%w\nserver output: %s", err, srv.Logs())
	}

	log.Info("preparing the session", "viewers", o.Viewers)
	// One organiser (the host) and viewers + 1 registered people: the last one is the
	// attendee the host invites onto the stage.
	sess, err := Prepare(ctx, srv.DatabaseURL, 1, o.Viewers+1, 0)
	if err != nil {
		return res, err
	}
	api, err := NewAPI()
	if err != nil {
		return res, err
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	dial := func(name, apiToken string) (*member, error) {
		a, err := Admit(ctx, hc, srv.URL, apiToken, sess.OccurrenceID)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		c, err := Dial(ctx, Config{API: api, Origin: srv.URL, Admission: a, AutoResume: true, Log: log.With("client", name),
			Readmit: func(ctx context.Context) (Admission, error) {
				return Admit(ctx, hc, srv.URL, apiToken, sess.OccurrenceID)
			}})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &member{name: name, client: c, id: c.ID}, nil
	}

	var members []*member // host, speaker, viewers
	pubCtx, stopPublishing := context.WithCancel(ctx)
	var pubWG sync.WaitGroup
	defer func() {
		stopPublishing()
		pubWG.Wait()
		var wg sync.WaitGroup
		for _, m := range members {
			wg.Go(m.client.Close)
		}
		wg.Wait()
	}()
	publish := func(m *member, i int) error {
		p, err := newPublisher(m.client, i, true, o.Bitrate)
		if err != nil {
			return fmt.Errorf("%s publishes: %w", m.name, err)
		}
		m.pub = p
		pubWG.Go(func() { p.run(pubCtx) })
		return waitUntil(ctx, 15*time.Second, m.client.UpConnected)
	}

	// The host joins and publishes.
	host, err := dial("host", sess.SpeakerTokens[0])
	if err != nil {
		return fail(err)
	}
	members = append(members, host)
	if err := publish(host, 0); err != nil {
		return fail(fmt.Errorf("the host's media did not connect: %w", err))
	}

	// An attendee joins; the host invites them onto the stage; they publish.
	speaker, err := dial("speaker", sess.ViewerTokens[o.Viewers])
	if err != nil {
		return fail(err)
	}
	members = append(members, speaker)
	if err := host.client.Stage(speaker.id, true); err != nil {
		return fail(fmt.Errorf("stage: %w", err))
	}
	if err := waitUntil(ctx, 10*time.Second, func() bool { return speaker.client.State().You.Role == "speaker" }); err != nil {
		return fail(fmt.Errorf("the attendee invited onto the stage did not become a speaker (role %q): %w", speaker.client.State().You.Role, err))
	}
	if err := publish(speaker, 1); err != nil {
		return fail(fmt.Errorf("the promoted speaker's media did not connect: %w", err))
	}

	// Viewers join, 8 at a time.
	log.Info("viewers joining", "viewers", o.Viewers)
	viewers := make([]*member, o.Viewers)
	var joinWG sync.WaitGroup
	var joinErr atomic.Value
	sem := make(chan struct{}, 8)
	for i := range o.Viewers {
		sem <- struct{}{}
		joinWG.Go(func() {
			defer func() { <-sem }()
			m, err := dial(fmt.Sprintf("viewer %d", i), sess.ViewerTokens[i])
			if err != nil {
				joinErr.CompareAndSwap(nil, err)
				return
			}
			viewers[i] = m
		})
	}
	joinWG.Wait()
	for _, v := range viewers {
		if v != nil {
			members = append(members, v)
		}
	}
	if err, ok := joinErr.Load().(error); ok {
		return fail(fmt.Errorf("a viewer could not join: %w", err))
	}
	// Viewer 0 raises a hand; the host sees it.
	hand := viewers[0]
	if err := hand.client.Hand(true); err != nil {
		return fail(fmt.Errorf("hand: %w", err))
	}
	if err := waitUntil(ctx, 10*time.Second, func() bool { return host.client.State().Others[hand.id].Hand }); err != nil {
		return fail(fmt.Errorf("the host did not see the raised hand: %w", err))
	}
	// Everyone receiving?
	_ = waitUntil(ctx, 20*time.Second, func() bool {
		for _, v := range viewers {
			if v.client.State().FirstMedia.IsZero() {
				return false
			}
		}
		return true
	})
	var joins []float64
	for _, v := range viewers {
		if f := v.client.State().FirstMedia; !f.IsZero() {
			res.ViewersConnected++
			joins = append(joins, float64(f.Sub(v.client.Opened))/1e6)
		}
	}
	res.JoinMsP50, res.JoinMsP95 = percentile(joins, 50), percentile(joins, 95)
	log.Info("everyone in", "viewers_connected", res.ViewersConnected)

	// Chat flows: everyone says something every 500 ms, each text unique.
	chatCtx, stopChat := context.WithCancel(ctx)
	var chatWG sync.WaitGroup
	var sent atomic.Int64
	for i, m := range members {
		chatWG.Go(func() {
			sleep(chatCtx, rand.N(500*time.Millisecond))
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for n := 0; ; n++ {
				if m.client.Chat(fmt.Sprintf("client %d message %d", i, n)) == nil {
					sent.Add(1)
				}
				select {
				case <-chatCtx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	defer func() { stopChat(); chatWG.Wait() }()
	t0 := time.Now()
	sleep(ctx, o.Duration/2)

	// The crash, and the server back on the same data and ports.
	log.Info("killing the server", "pid", srv.PID)
	killed := time.Now()
	if err := srv.Kill(); err != nil {
		return fail(err)
	}
	ready, err := srv.Restart(ctx)
	if err != nil {
		return fail(fmt.Errorf("the server did not come back: %w", err))
	}
	res.ServerDownMs = float64(ready.Sub(killed).Microseconds()) / 1000
	log.Info("the server is back", "down_ms", res.ServerDownMs)

	back := func(m *member) bool {
		s := m.client.State()
		return s.Connected && s.Resumes+s.Rejoins > 0 && s.WelcomeAt.After(killed)
	}
	// mediaAll is when a viewer received media again from both publishers (zero: not yet).
	mediaAll := func(s State) time.Time {
		h, ok1 := s.MediaFrom[host.id]
		p, ok2 := s.MediaFrom[speaker.id]
		if !ok1 || !ok2 {
			return time.Time{}
		}
		return later(h, p)
	}
	_ = waitUntil(ctx, resumeTimeout, func() bool {
		waiting := false
		for _, m := range members {
			s := m.client.State()
			if s.GaveUp {
				continue // it will not come back by itself
			}
			if !back(m) {
				waiting = true
			} else if m != host && m != speaker && mediaAll(s).IsZero() {
				waiting = true
			}
		}
		return !waiting
	})
	var resumes, resumesAll []float64
	for _, m := range members {
		s := m.client.State()
		if !back(m) {
			res.Errors = append(res.Errors, m.name+" is not back")
			continue
		}
		res.BackMsMax = max(res.BackMsMax, float64(s.WelcomeAt.Sub(ready).Microseconds())/1000)
		if s.You.ID == m.id && s.Resumes > 0 {
			res.ResumedClients++
			if m != host && m != speaker {
				res.ResumedViewers++
			}
		} else {
			res.RejoinedClients++
		}
		if m == host || m == speaker || s.MediaAt.IsZero() {
			continue
		}
		res.MediaBackViewers++
		resumes = append(resumes, max(0, float64(s.MediaAt.Sub(ready).Microseconds())/1000))
		if all := mediaAll(s); !all.IsZero() {
			res.MediaAllBackViewers++
			resumesAll = append(resumesAll, max(0, float64(all.Sub(ready).Microseconds())/1000))
		}
	}
	res.ResumeMsP50, res.ResumeMsP95, res.ResumeMsMax = percentile(resumes, 50), percentile(resumes, 95), percentile(resumes, 100)
	res.ResumeAllMsP50, res.ResumeAllMsP95 = percentile(resumesAll, 50), percentile(resumesAll, 95)
	log.Info("back", "resumed", res.ResumedClients, "resume_ms_p95", res.ResumeMsP95)

	// The second half of the chat, then the stragglers delivered.
	sleep(ctx, o.Duration/2)
	stopChat()
	chatWG.Wait()
	res.DurationS = time.Since(t0).Seconds()
	res.ChatSent = sent.Load()
	sleep(ctx, time.Second) // the last messages sent reach the database
	stored, err := storedChat(ctx, srv.DatabaseURL, sess.OccurrenceID)
	if err != nil {
		return fail(err)
	}
	res.ChatStored = len(stored)
	_ = waitUntil(ctx, 5*time.Second, func() bool {
		for _, m := range members {
			chat := m.client.State().Chat
			for _, id := range stored {
				if chat[id] == 0 {
					return false
				}
			}
		}
		return true
	})
	known := make(map[int64]bool, len(stored))
	for _, id := range stored {
		known[id] = true
	}
	for _, m := range members {
		chat := m.client.State().Chat
		lost := 0
		for _, id := range stored {
			if chat[id] == 0 {
				lost++
			}
		}
		dup := 0
		for id, n := range chat {
			if !known[id] {
				res.ChatUnknown++
			}
			dup += n - 1
		}
		if lost > 0 || dup > 0 {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %d chat messages lost, %d duplicated", m.name, lost, dup))
		}
		res.ChatLost += lost
		res.ChatDuplicated += dup
	}

	// Roles: the promoted speaker is a speaker and the hand is raised, in their own eyes and
	// everyone else's.
	res.RolesKept = back(speaker) && back(hand)
	if !res.RolesKept {
		res.Errors = append(res.Errors, "roles not kept: the promoted speaker or the viewer with the raised hand is not back")
	}
	sp, hs := speaker.client.State(), hand.client.State()
	if sp.You.Role != "speaker" {
		res.RolesKept = false
		res.Errors = append(res.Errors, fmt.Sprintf("the promoted speaker's own role is %q after the restart", sp.You.Role))
	}
	if !hs.You.Hand {
		res.RolesKept = false
		res.Errors = append(res.Errors, "the raised hand is down in its own welcome after the restart")
	}
	for _, m := range members {
		if !back(m) {
			continue // what it knows is from before the crash
		}
		s := m.client.State()
		if m != speaker {
			if p, ok := s.Others[sp.You.ID]; !ok || p.Role != "speaker" {
				res.RolesKept = false
				res.Errors = append(res.Errors, fmt.Sprintf("%s sees the promoted speaker as %+v (listed: %t)", m.name, p, ok))
			}
		}
		if m != hand {
			if p, ok := s.Others[hs.You.ID]; !ok || !p.Hand {
				res.RolesKept = false
				res.Errors = append(res.Errors, fmt.Sprintf("%s sees the raised hand as %+v (listed: %t)", m.name, p, ok))
			}
		}
	}
	if strings.Contains(srv.Logs(), "DATA RACE") { // a server built with -race (go test -race)
		res.Errors = append(res.Errors, "the server reported a data race: "+srv.Logs())
	}
	for _, m := range members {
		for _, e := range m.client.Errors() {
			res.Errors = append(res.Errors, m.name+": "+e)
		}
	}
	if len(res.Errors) > 20 {
		res.Errors = append(res.Errors[:20], fmt.Sprintf("… and %d more", len(res.Errors)-20))
	}
	return res, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// storedChat is the ids of the chat messages the server stored for an occurrence.
func storedChat(ctx context.Context, databaseURL string, occID int64) ([]int64, error) {
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect to the database: %w", err)
	}
	defer pool.Close()
	rows, err := pool.Query(ctx, `SELECT id FROM live_chat_messages WHERE occurrence_id = $1 ORDER BY id`, occID)
	if err != nil {
		return nil, fmt.Errorf("stored chat: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stored chat: %w", err)
	}
	return slices.Clip(ids), nil
}

// TB is the part of testing.TB CheckRestart uses.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// CheckRestart fails t unless the restart scenario's result shows everyone back as the
// same participant with media, the roles and hand kept, and the chat complete with no
// duplicates. The resume time is only logged: tests assert outcomes, not wall-clock limits.
func CheckRestart(t TB, res RestartResult) {
	t.Helper()
	if res.ViewersConnected != res.Viewers {
		t.Errorf("%d of %d viewers received media before the crash", res.ViewersConnected, res.Viewers)
	}
	if res.ResumedClients != res.Clients || res.ResumedViewers != res.Viewers {
		t.Errorf("%d of %d clients (%d of %d viewers) resumed as the same participant; %d joined again",
			res.ResumedClients, res.Clients, res.ResumedViewers, res.Viewers, res.RejoinedClients)
	}
	if res.MediaBackViewers != res.Viewers || res.MediaAllBackViewers != res.Viewers {
		t.Errorf("%d of %d viewers received media again after the restart, %d from both the host and the promoted speaker",
			res.MediaBackViewers, res.Viewers, res.MediaAllBackViewers)
	}
	if !res.RolesKept {
		t.Errorf("roles or hand not kept")
	}
	if res.ChatStored == 0 || res.ChatLost != 0 || res.ChatDuplicated != 0 || res.ChatUnknown != 0 {
		t.Errorf("chat: %d stored, %d lost, %d duplicated, %d unknown", res.ChatStored, res.ChatLost, res.ChatDuplicated, res.ChatUnknown)
	}
	if len(res.Errors) > 0 {
		t.Errorf("errors: %q", res.Errors)
	}
	t.Logf("server down %.0f ms; from /readyz to everyone's welcome again: %.0f ms at most; to viewers' media again: p50 %.0f ms, p95 %.0f ms, max %.0f ms; from both publishers: p95 %.0f ms (the issue's target: every client back within 5,000 ms)",
		res.ServerDownMs, res.BackMsMax, res.ResumeMsP50, res.ResumeMsP95, res.ResumeMsMax, res.ResumeAllMsP95)
}
