package loadtest

import (
	"context"
	"testing"
	"time"

	"github.com/puente-org/puente/store/pgtest"
)

// A small webinar through a real server process: everyone joins, media flows without loss,
// and the figures are filled in from the server's own process and metrics.
func TestWebinarRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and PostgreSQL")
	}
	o := Options{Scenario: Webinar, Viewers: 4, Duration: 2 * time.Second, Floor: true, Bitrate: 1_000_000,
		DatabaseURL: pgtest.NewURL(t)}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	switch {
	case res.ViewersConnected != 4:
		t.Errorf("%d of 4 viewers received media", res.ViewersConnected)
	case res.ForwardedPPS < 4*100: // 4 viewers × (≈100 video + 50 audio packets/s)
		t.Errorf("forwarded %.0f packets/s", res.ForwardedPPS)
	case res.LossPercent > 1:
		t.Errorf("loss %.2f%% on loopback", res.LossPercent)
	case res.ServerCPUS <= 0 || res.ServerRSSMB <= 0 || res.ServerGoroutines <= 0:
		t.Errorf("server figures missing: %+v", res)
	case res.CPUUsPerPacket <= 0 || res.FloorCPUUsPerPacket <= 0 || res.RatioToFloor <= 0:
		t.Errorf("per-packet figures missing: %+v", res)
	case res.JoinMsP50 <= 0 || res.JoinMsP95 < res.JoinMsP50:
		t.Errorf("join times: %+v", res)
	}
	if len(res.Errors) > 0 {
		t.Errorf("errors: %v", res.Errors)
	}
}
