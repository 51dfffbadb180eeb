package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/puente-org/puente/loadtest"
	"github.com/puente-org/puente/store/pgtest"
)

// The real binary killed with SIGKILL during a room — a host publishing, an attendee the
// host invited onto the stage who publishes too, two viewers, one with a raised hand, and
// chat flowing — then started again on the same data and ports: every client comes back
// by itself as the same participant (resume), with the same role and the hand still
// raised, the viewers receive media again, and every client ends with the whole chat
// history, each message exactly once. The clients are the load generator's: Pion peers
// speaking the protocol. How long it took from /readyz is logged (the target is
// 5 s); only "within 30 s" bounds the wait, as wall-clock limits fail on a loaded machine.
func TestRestartAfterSIGKILLResumesEveryone(t *testing.T) {
	skipShort(t, "builds and starts the binary with PostgreSQL, and kills it")
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	res, err := loadtest.RunRestart(ctx, loadtest.Options{Scenario: loadtest.Restart, Viewers: 2, Duration: 4 * time.Second,
		Bitrate: 300_000, DatabaseURL: pgtest.NewURL(t), ServerBinary: bin, ResumeTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Clients != 4 {
		t.Fatalf("%d clients in the room, want 4 (host, speaker, two viewers)", res.Clients)
	}
	loadtest.CheckRestart(t, res)
}
