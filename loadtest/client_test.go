package loadtest

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/puente-org/puente/store/pgtest"
)

// A client whose websocket drops while the server stays up comes back by itself as the same
// participant with its peer connections kept (media_kept): a viewer goes on receiving, gets
// the chat said while it was away exactly once, and a publisher whose websocket drops goes
// on publishing to it.
func TestClientResumesAfterWebsocketDrop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and PostgreSQL")
	}
	ctx := context.Background()
	srv, err := StartServer(ctx, pgtest.NewURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sess, err := Prepare(ctx, srv.DatabaseURL, 1, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	api, err := NewAPI()
	if err != nil {
		t.Fatal(err)
	}
	dial := func(tok string) *Client {
		t.Helper()
		a, err := Admit(ctx, http.DefaultClient, srv.URL, tok, sess.OccurrenceID)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Dial(ctx, Config{API: api, Origin: srv.URL, Admission: a, AutoResume: true})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wait := func(what string, ok func() bool) {
		t.Helper()
		if err := waitUntil(ctx, 20*time.Second, ok); err != nil {
			t.Fatalf("%s: %v\nserver: %s", what, err, srv.Logs())
		}
	}
	host := dial(sess.SpeakerTokens[0])
	defer host.Close()
	p, err := newPublisher(host, 0, true, 300_000)
	if err != nil {
		t.Fatal(err)
	}
	pubCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	wg.Go(func() { p.run(pubCtx) })
	wait("the host publishes", host.UpConnected)
	viewer := dial(sess.ViewerTokens[0])
	defer viewer.Close()
	wait("the viewer receives", func() bool { return !viewer.State().FirstMedia.IsZero() })

	// The viewer's websocket drops; the host says something meanwhile.
	viewer.dropWebsocket()
	if err := host.Chat("while you were away"); err != nil {
		t.Fatal(err)
	}
	wait("the viewer resumes and receives again", func() bool {
		s := viewer.State()
		return s.Resumes == 1 && s.Connected && !s.MediaAt.IsZero()
	})
	if s := viewer.State(); s.You.ID != viewer.ID || !s.MediaKept || s.Rejoins != 0 {
		t.Fatalf("after the drop the viewer is %+v (media kept: %t, rejoins %d), was %s", s.You, s.MediaKept, s.Rejoins, viewer.ID)
	}
	if err := host.Chat("welcome back"); err != nil {
		t.Fatal(err)
	}
	wait("the viewer has both messages", func() bool { return len(viewer.State().Chat) == 2 })

	// The host's websocket drops: it resumes, keeps publishing, and the viewer keeps receiving.
	host.dropWebsocket()
	wait("the host resumes", func() bool { s := host.State(); return s.Resumes == 1 && s.Connected })
	if s := host.State(); s.You.ID != host.ID || s.You.Role != "host" || !s.MediaKept {
		t.Fatalf("after the drop the host is %+v (media kept %t), was %s", s.You, s.MediaKept, host.ID)
	}
	before := viewer.State().Packets
	wait("the viewer still receives", func() bool { return viewer.State().Packets > before+100 })
	wait("the host's up connection is connected", host.UpConnected)

	time.Sleep(500 * time.Millisecond)             // anything late would show as a duplicate
	if strings.Contains(srv.Logs(), "DATA RACE") { // the server is this test binary, with -race too
		t.Errorf("the server reported a data race:\n%s", srv.Logs())
	}
	for _, c := range []*Client{host, viewer} {
		chat := c.State().Chat
		if len(chat) != 2 {
			t.Errorf("%s has chat %v, want the 2 messages", c.ID, chat)
		}
		for id, n := range chat {
			if n != 1 {
				t.Errorf("%s received chat message %d %d times", c.ID, id, n)
			}
		}
		for _, e := range c.Errors() {
			if strings.Contains(e, " 0 m-lines") {
				// After a resume with media kept the server restarts ICE on the down
				// connection even when it carries nothing (a host alone on the stage): an
				// offer without media sections has no ICE credentials, which neither Pion nor
				// the server's own SetRemoteDescription of the answer accepts, and the
				// server then waits for an answer that never comes.
				t.Errorf("%s got a down offer with nothing in it after resuming (no ICE credentials to restart): %s", c.ID, e)
				continue
			}
			t.Errorf("%s: %s", c.ID, e)
		}
	}
}

// A client whose resume is refused (here a forged resume token) asks for a new join token
// and joins again by itself: connected, and receiving media again.
func TestClientJoinsAgainWhenResumeIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and PostgreSQL")
	}
	ctx := context.Background()
	srv, err := StartServer(ctx, pgtest.NewURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sess, err := Prepare(ctx, srv.DatabaseURL, 1, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	api, err := NewAPI()
	if err != nil {
		t.Fatal(err)
	}
	wait := func(what string, ok func() bool) {
		t.Helper()
		if err := waitUntil(ctx, 20*time.Second, ok); err != nil {
			t.Fatalf("%s: %v\nserver: %s", what, err, srv.Logs())
		}
	}
	admit := func(tok string) func(context.Context) (Admission, error) {
		return func(ctx context.Context) (Admission, error) {
			return Admit(ctx, http.DefaultClient, srv.URL, tok, sess.OccurrenceID)
		}
	}
	a, err := admit(sess.SpeakerTokens[0])(ctx)
	if err != nil {
		t.Fatal(err)
	}
	host, err := Dial(ctx, Config{API: api, Origin: srv.URL, Admission: a})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	p, err := newPublisher(host, 0, true, 300_000)
	if err != nil {
		t.Fatal(err)
	}
	pubCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	wg.Go(func() { p.run(pubCtx) })
	wait("the host publishes", host.UpConnected)

	readmit := admit(sess.ViewerTokens[0])
	if a, err = readmit(ctx); err != nil {
		t.Fatal(err)
	}
	viewer, err := Dial(ctx, Config{API: api, Origin: srv.URL, Admission: a, AutoResume: true, Readmit: readmit})
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	wait("the viewer receives", func() bool { return !viewer.State().FirstMedia.IsZero() })

	viewer.mu.Lock()
	viewer.resumeToken = "r1.forged"
	viewer.mu.Unlock()
	viewer.dropWebsocket()
	wait("the viewer joins again and receives", func() bool {
		s := viewer.State()
		return s.Rejoins == 1 && s.Connected && !s.MediaAt.IsZero()
	})
	if s := viewer.State(); s.Resumes != 0 || s.You.Role != "attendee" {
		t.Errorf("after the refused resume: %+v, %d resumes", s.You, s.Resumes)
	}
	if errs := viewer.Errors(); len(errs) > 0 {
		t.Errorf("viewer: %q", errs)
	}
}
