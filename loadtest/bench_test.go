package loadtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

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
	case res.FloorSendtoUs <= 0 || res.FloorSendmmsgUs <= 0 || res.FloorCPUUsPerPacket != min(res.FloorSendtoUs, res.FloorSendmmsgUs):
		t.Errorf("the floor is not the better of sendto (%.2f µs) and sendmmsg (%.2f µs): %.2f µs",
			res.FloorSendtoUs, res.FloorSendmmsgUs, res.FloorCPUUsPerPacket)
	case res.JoinMsP50 <= 0 || res.JoinMsP95 < res.JoinMsP50:
		t.Errorf("join times: %+v", res)
	}
	if len(res.Errors) > 0 {
		t.Errorf("errors: %v", res.Errors)
	}
}

// Extended sequence numbers count on across a wrap, and a packet that arrives late from
// before the wrap (a NACKed resend) neither moves the count nor starts another cycle.
func TestExtendSeq(t *testing.T) {
	highest := int64(-1)
	for _, c := range []struct {
		seq  uint16
		want int64
	}{
		{65533, 65533},
		{65535, 65535},
		{0, 65536},
		{65534, 65534}, // late, from before the wrap
		{2, 65538},
		{1, 65537}, // reordered
		{65535, 65535},
		{3, 65539},
		{0x8000 + 3, 0x18003},
		{0xfff0, 0x1fff0},
		{10, 0x2000a},
	} {
		got := extendSeq(highest, c.seq)
		if got != c.want {
			t.Fatalf("after %d, seq %d: got %d, want %d", highest, c.seq, got, c.want)
		}
		highest = max(highest, got)
	}
}

// The register scenario with --capacity: every request is answered 201, the session takes
// as many people as its places, and the others wait.
func TestRegisterScenarioWithCapacity(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and PostgreSQL")
	}
	db := pgtest.NewURL(t)
	o := Options{Scenario: "register", Requests: 20, Capacity: 5, DatabaseURL: db}
	res, err := RunHTTPScenario(context.Background(), o, 10)
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Runs["register"]; r.Requests != 20 || r.Errors != 0 {
		t.Fatalf("register run: %+v", r)
	}
	pool, err := pgxpool.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	got := map[string]int{}
	rows, err := pool.Query(context.Background(), `SELECT status::text, count(*) FROM registrations GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			t.Fatal(err)
		}
		got[status] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got["confirmed"] != 5 || got["waitlisted"] != 15 || len(got) != 2 {
		t.Errorf("registrations by status: %v, want 5 confirmed and 15 waitlisted", got)
	}
}

// The simulcast scenario through a real server process: the speaker publishes its layers
// once the viewers are in, the constrained viewers' media comes through their shaped links,
// everyone gets the audio, the unconstrained viewers read their frames' layers through the
// SFU without loss, and every viewer is counted in one layer group. (Which layer each gets
// is the server's adaptation, measured by cmd/puente-bench: docs/benchmarks.md.)
func TestSimulcastRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and PostgreSQL")
	}
	o := Options{Scenario: Simulcast, Viewers: 4, Constrained: 2, ConstrainedKbps: 300, Duration: 2 * time.Second,
		DatabaseURL: pgtest.NewURL(t)}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	t.Logf("viewers by layer %+v, constrained %+v", res.ViewersByLayer, res.ConstrainedViewersByLayer)
	if res.ViewersWithAudio != 4 {
		t.Errorf("%d of 4 viewers received audio", res.ViewersWithAudio)
	}
	if res.PublishToFirstPacketMs <= 0 || res.PublishToLastViewerMs < res.PublishToFirstPacketMs {
		t.Errorf("publish to first packet %.1f ms, to the last viewer %.1f ms", res.PublishToFirstPacketMs, res.PublishToLastViewerMs)
	}
	if res.LossPercent > 1 {
		t.Errorf("loss %.2f%% of the unconstrained viewers on loopback", res.LossPercent)
	}
	if res.ViewersConnected != 4 {
		t.Errorf("%d of 4 viewers received video", res.ViewersConnected)
	}
	if res.ViewersByLayer == nil || res.ConstrainedViewersByLayer == nil {
		t.Fatal("no layer counts")
	}
	if n := *res.ViewersByLayer; n.High+n.Mid+n.Low != 2 || n.Paused != 0 {
		t.Errorf("unconstrained viewers by layer %+v, want both on a layer (their frames read through the SFU)", n)
	}
	if n := *res.ConstrainedViewersByLayer; n.High+n.Mid+n.Low+n.Paused != 2 {
		t.Errorf("constrained viewers by layer %+v, want 2 in all", n)
	}
	if res.Constrained != 2 || res.ConstrainedKbps != 300 {
		t.Errorf("constrained %d at %d kbps", res.Constrained, res.ConstrainedKbps)
	}
}
