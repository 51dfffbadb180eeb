package loadtest

import (
	"context"
	"testing"
	"time"

	"github.com/puente-org/puente/store/pgtest"
)

// A server crash during a room (SIGKILL, then a start on the same data and ports): the host,
// the promoted speaker and the viewers come back by themselves as the same participants,
// with the same roles and hand, media flows again, and every client ends with every stored
// chat message exactly once.
func TestRestartRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and PostgreSQL, and kills it")
	}
	o := Options{Scenario: Restart, Viewers: 3, Duration: 4 * time.Second, Bitrate: 300_000, DatabaseURL: pgtest.NewURL(t)}
	res, err := RunRestart(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	CheckRestart(t, res)
}
