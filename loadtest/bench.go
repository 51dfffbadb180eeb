package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/puente-org/puente/signaling"
)

// maxBatchWrite is the SFU's most messages per sendmmsg (sfu.maxBatch).
const maxBatchWrite = 64

// Scenarios.
const (
	Webinar   = "webinar"    // 1 speaker (720p VP8 + Opus) → N viewers
	Panel     = "panel"      // 4 speakers → N viewers
	AudioOnly = "audio"      // 10 speakers, audio only → N listeners
	JoinStorm = "join-storm" // 1 speaker; N viewers join within a few seconds
	Capacity  = "capacity"   // webinar, viewers added in steps until the server's limit
)

// Options configure a media run.
type Options struct {
	Scenario string
	Viewers  int
	// Requests: register, how many people register (0: Viewers × 20, at least 2,000). With
	// --concurrency equal to it, all of them register at once (a registration rush).
	Requests int
	// Capacity: register, the session's places (0: unlimited); the people after them wait.
	Capacity     int
	Duration     time.Duration // measured window, after everyone joined and a warm-up
	StormWindow  time.Duration // join-storm: viewers arrive evenly within it
	URL          string        // a running server ("" = start one)
	DatabaseURL  string        // the server's database (needed with URL; optional otherwise)
	ServerPID    int           // with URL: the server's pid, for its CPU figures
	Pin          bool          // server and floor on the last CPU, the generator on the others
	Floor        bool          // measure the bare relay too
	Bitrate      int           // video bits per second
	Profile      string        // write the server's CPU profile of the measured window here
	AllocProfile string        // and its allocations profile here
	BatchWrites  bool          // the server sends each packet's copies with one sendmmsg (the floor is measured both ways)
	// ServerBinary is the puente binary a server started here runs ("": this executable).
	ServerBinary string
	// Constrained viewers (the first ones) receive through a shaped link of ConstrainedKbps
	// (ShapedConn): media scenarios.
	Constrained     int
	ConstrainedKbps int
	// AdaptToBandwidth starts the server with bandwidth estimation on or off
	// (PUENTE_RTC_ADAPT_TO_BANDWIDTH; ignored with URL: that server has its own setting).
	AdaptToBandwidth bool
	// ResumeTimeout: restart, how long to wait for everyone to be back (0:
	// DefaultResumeTimeout).
	ResumeTimeout time.Duration
	// LightViewers: all viewers but one (and the constrained ones) count their media from
	// the clear RTP headers without decrypting it (LightConn); one viewer stays on the full
	// path. Not for simulcast (its viewers read the layer marks in the payload).
	LightViewers bool
	// Step: capacity, viewers added per step (Viewers is the most tried).
	Step int
	Log  *slog.Logger
}

// Result is one run's figures (the JSON line of cmd/puente-bench).
type Result struct {
	Scenario              string  `json:"scenario"`
	Speakers              int     `json:"speakers"`
	Viewers               int     `json:"viewers"`
	ViewersConnected      int     `json:"viewers_connected"`
	DurationS             float64 `json:"duration_s"`
	JoinMsP50             float64 `json:"join_ms_p50"`
	JoinMsP95             float64 `json:"join_ms_p95"`
	JoinMsMax             float64 `json:"join_ms_max"`
	ForwardedPPS          float64 `json:"forwarded_pps"`
	ForwardedMbps         float64 `json:"forwarded_mbps"`
	ReceivedPPS           float64 `json:"received_pps"`
	LossPercent           float64 `json:"loss_percent"`
	ServerCPUS            float64 `json:"server_cpu_s"`
	ServerCPUPercent      float64 `json:"server_cpu_percent"`
	ServerRSSMB           float64 `json:"server_rss_mb"`
	ServerGoroutines      int     `json:"server_goroutines"`
	ServerAllocsPerPacket float64 `json:"server_allocs_per_packet"`
	CPUUsPerPacket        float64 `json:"cpu_us_per_packet"`
	FloorCPUUsPerPacket   float64 `json:"floor_cpu_us_per_packet"` // the better of the two below
	FloorSendtoUs         float64 `json:"floor_sendto_cpu_us_per_packet"`
	FloorSendmmsgUs       float64 `json:"floor_sendmmsg_cpu_us_per_packet"`
	FloorWrites           string  `json:"floor_writes,omitempty"` // which of the two the floor is
	FloorPackets          int64   `json:"floor_packets"`
	RatioToFloor          float64 `json:"ratio_to_floor"`
	GeneratorCPUPercent   float64 `json:"generator_cpu_percent"`
	GeneratorBottleneck   bool    `json:"generator_bottleneck"`
	Pinned                bool    `json:"pinned"`
	BatchWrites           bool    `json:"batch_writes"`
	AdaptToBandwidth      bool    `json:"adapt_to_bandwidth"`
	// Adaptive media (issue 12). Loss is over unconstrained viewers (LossPercent) and
	// constrained ones apart; audio loss over all viewers.
	Constrained                 int          `json:"constrained,omitempty"`
	ConstrainedKbps             int          `json:"constrained_kbps,omitempty"`
	ConstrainedLossPercent      float64      `json:"constrained_loss_percent"`
	AudioLossPercent            float64      `json:"audio_loss_percent"`
	ConstrainedAudioLossPercent float64      `json:"constrained_audio_loss_percent"` // audio of the constrained viewers
	ViewersWithAudio            int          `json:"viewers_with_audio"`             // viewers that received audio
	ConstrainedDrops            int64        `json:"constrained_drops,omitempty"`    // packets the shaped links dropped at a full queue
	ViewersByLayer              *LayerCounts `json:"viewers_by_layer,omitempty"`
	ConstrainedViewersByLayer   *LayerCounts `json:"constrained_viewers_by_layer,omitempty"`
	LayerSwitches               int64        `json:"layer_switches"`
	VideoPauses                 int64        `json:"video_pauses"`  // video_paused (true) messages viewers got
	PausedLayers                int          `json:"paused_layers"` // layers the publisher was told to stop, at the end
	LayerPauses                 int64        `json:"layer_pauses"`  // times the publisher was told to stop a layer
	// Simulcast: the viewers are in the room before the speaker publishes; from the speaker
	// sending its up offer to the first media packet (audio or video) of the publication at
	// the first viewer, and at the last one.
	PublishToFirstPacketMs float64 `json:"publish_to_first_packet_ms,omitempty"`
	PublishToLastViewerMs  float64 `json:"publish_to_last_viewer_ms,omitempty"`
	// Packets the speakers sent a second (not simulcast), and the videos the server had
	// paused for viewers at the end (for their bandwidth estimate).
	PublishedPPS float64 `json:"published_pps"`
	PausedVideos int     `json:"paused_videos"`
	// Unconstrained viewers that received less than half of what the speakers sent in the
	// window (a stalled stream shows no sequence gaps, so no loss), and viewers whose down
	// connection was not connected at its end.
	ViewersStarved          int `json:"viewers_starved"`
	ViewersDownNotConnected int `json:"viewers_down_not_connected"`
	// Datagrams the kernel dropped at light viewers' full sockets over the whole run (the
	// generator's losses, counted in loss_percent too).
	LightSocketDrops int64 `json:"light_socket_drops"`
	// Light viewers (LightConn): how many viewers counted media without decrypting it, and
	// how many read it through Pion (decrypted); the loss of the latter alone.
	LightViewers          int     `json:"light_viewers"`
	FullViewers           int     `json:"full_viewers"`
	FullViewerLossPercent float64 `json:"full_viewer_loss_percent"`
	// Capacity: the steps measured, why the run stopped (loss, server_cpu, not_receiving,
	// under_delivered: the server's limit; generator: the generator's, not a server
	// capacity; max_viewers: no limit met), the last step under the limits when that limit
	// was the server's, and the last step under the limits whatever stopped the run.
	Step              int             `json:"step,omitempty"`
	Curve             []CapacityPoint `json:"curve,omitempty"`
	StoppedBy         string          `json:"stopped_by,omitempty"`
	MaxViewersPerCore *int            `json:"max_viewers_per_core,omitempty"`
	CapacityAtLeast   *int            `json:"capacity_at_least,omitempty"`
	Errors            []string        `json:"errors,omitempty"`
}

// LayerCounts counts viewers by the layer they receive at the end of a run.
type LayerCounts struct {
	High   int `json:"high"`
	Mid    int `json:"mid"`
	Low    int `json:"low"`
	Paused int `json:"paused"`
}

func (lc *LayerCounts) add(layer int) {
	switch layer {
	case LayerHigh:
		lc.High++
	case LayerMid:
		lc.Mid++
	case LayerLow:
		lc.Low++
	default:
		lc.Paused++
	}
}

// trackStats counts what a viewer received on one track (written by its reader only).
type trackStats struct {
	audio   bool
	packets atomic.Int64
	// The extended sequence numbers of the first packet and of the highest so far;
	// highest is -1 before the first packet.
	first, highest atomic.Int64
}

type viewer struct {
	client      *Client
	constrained bool
	firstAt     atomic.Int64 // unix nanos of the first media packet (video when there is video)
	anyAt       atomic.Int64 // unix nanos of the first media packet of any kind
	tracks      sync.Map     // track id → *trackStats
	// Simulcast: the layer of the last video frame (marked by the publisher; -1: none yet),
	// when it came (unix nanos), and how often the layer changed.
	layer    atomic.Int32
	frameAt  atomic.Int64
	switches atomic.Int64
	shaped   *ShapedConn
	light    *LightConn
	mux      io.Closer // the ICE mux on shaped or light (closing it closes that)
}

// closeShaped closes a constrained or light viewer's socket.
func (v *viewer) closeShaped() {
	if v.mux != nil {
		_ = v.mux.Close()
	}
	if v.shaped != nil {
		_ = v.shaped.Close()
	}
	if v.light != nil {
		_ = v.light.Close()
	}
}

// speakersOf says how many speakers publish what in a scenario.
func speakersOf(s string) (n int, video bool, err error) {
	switch s {
	case Webinar, JoinStorm, Capacity:
		return 1, true, nil
	case Panel:
		return 4, true, nil
	case AudioOnly:
		return 10, false, nil
	case Simulcast:
		return 1, true, nil
	}
	return 0, false, fmt.Errorf("unknown scenario %q (webinar, panel, audio, join-storm, simulcast, capacity)", s)
}

// Run runs a media scenario and measures it.
func Run(ctx context.Context, o Options) (Result, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nSpeakers, video, err := speakersOf(o.Scenario)
	if err != nil {
		return Result{}, err
	}
	res := Result{Scenario: o.Scenario, Speakers: nSpeakers, Viewers: o.Viewers, BatchWrites: o.BatchWrites, AdaptToBandwidth: o.AdaptToBandwidth}
	simulcast := o.Scenario == Simulcast
	if o.Constrained < 0 || o.Constrained > o.Viewers {
		return res, fmt.Errorf("constrained viewers: %d of %d", o.Constrained, o.Viewers)
	}
	if o.Constrained > 0 {
		if o.ConstrainedKbps <= 0 {
			return res, errors.New("constrained viewers need a rate")
		}
		res.Constrained, res.ConstrainedKbps = o.Constrained, o.ConstrainedKbps
	}

	srv := &Server{URL: o.URL, DatabaseURL: o.DatabaseURL, PID: o.ServerPID}
	if o.URL == "" {
		env := []string{fmt.Sprintf("PUENTE_RTC_BATCH_WRITES=%t", o.BatchWrites),
			fmt.Sprintf("PUENTE_RTC_ADAPT_TO_BANDWIDTH=%t", o.AdaptToBandwidth)}
		if srv, err = StartServerWith(ctx, ServerOptions{DatabaseURL: o.DatabaseURL, Binary: o.ServerBinary, Log: log, Env: env}); err != nil {
			return res, err
		}
		defer srv.Close()
	} else if o.DatabaseURL == "" {
		return res, errors.New("--url needs --database-url (the server's database, to set up the session and its people)")
	}
	serverCPU := -1
	if o.Pin && srv.PID != 0 {
		if err := pinPair(srv.PID); err != nil {
			log.Warn("not pinned", "err", err)
		} else {
			serverCPU, res.Pinned = runtime.NumCPU()-1, true
		}
	}

	log.Info("preparing the session", "speakers", nSpeakers, "viewers", o.Viewers)
	sess, err := Prepare(ctx, srv.DatabaseURL, nSpeakers, o.Viewers, 0)
	if err != nil {
		return res, err
	}
	api, err := NewAPI()
	if err != nil {
		return res, err
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	// Speakers join as hosts and publish.
	pubCtx, stopPublishing := context.WithCancel(ctx)
	var pubWG sync.WaitGroup
	var speakers []*Client
	var simPubs []*simulcastPublisher
	var pubs []*publisher
	defer func() {
		stopPublishing()
		pubWG.Wait()
		for _, c := range speakers {
			c.Close()
		}
	}()
	waitUp := func() error {
		if err := waitUntil(ctx, 15*time.Second, func() bool {
			for _, c := range speakers {
				if !c.UpConnected() {
					return false
				}
			}
			return true
		}); err != nil {
			return fmt.Errorf("speakers' media did not connect: %w", err)
		}
		return nil
	}
	for i, tok := range sess.SpeakerTokens {
		a, err := Admit(ctx, hc, srv.URL, tok, sess.OccurrenceID)
		if err != nil {
			return res, fmt.Errorf("speaker %d: %w", i, err)
		}
		c, err := Join(ctx, api, srv.URL, a, nil)
		if err != nil {
			return res, fmt.Errorf("speaker %d: %w", i, err)
		}
		speakers = append(speakers, c)
		if simulcast {
			// Simulcast publishes once the viewers are in the room (publish_to_first_packet_ms).
			p, err := newSimulcastPublisher(c, i)
			if err != nil {
				return res, fmt.Errorf("speaker %d: %w", i, err)
			}
			simPubs = append(simPubs, p)
			continue
		}
		p, err := newPublisher(c, i, video, o.Bitrate)
		if err != nil {
			return res, fmt.Errorf("speaker %d publishes: %w", i, err)
		}
		pubs = append(pubs, p)
		pubWG.Go(func() { p.run(pubCtx) })
	}
	if !simulcast {
		if err := waitUp(); err != nil {
			return res, err
		}
	}

	// Viewers join: steadily (8 at a time), or all within the storm window.
	viewers := make([]*viewer, o.Viewers)
	var joinErrs atomic.Int64
	var firstErr atomic.Value
	var view *signaling.Size // view messages: simulcast only (a server without adaptive media refuses them)
	if simulcast {
		view = &signaling.Size{Width: 1280, Height: 720}
	}
	// Viewers from lightFrom on are light: the first unconstrained one stays on the full path.
	lightFrom := o.Viewers
	if o.LightViewers && !simulcast {
		lightFrom = o.Constrained + 1
	}
	failed := func(err error) {
		joinErrs.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	join := func(i int) {
		v := &viewer{constrained: i < o.Constrained}
		v.layer.Store(-1)
		vapi := api
		var onOffer func(string) error
		var cryptex webrtc.RTPHeaderEncryptionPolicy
		switch {
		case v.constrained:
			sc, err := listenShaped(ctx, o.ConstrainedKbps)
			if err != nil {
				failed(err)
				return
			}
			v.shaped = sc
			mux := webrtc.NewICEUDPMux(nil, sc)
			v.mux = mux
			if vapi, err = newAPI(mux); err != nil {
				v.closeShaped()
				failed(err)
				return
			}
		case i >= lightFrom:
			lc, err := listenLight(ctx, v, video)
			if err != nil {
				failed(err)
				return
			}
			v.light = lc
			mux := webrtc.NewICEUDPMux(nil, lc)
			v.mux = mux
			if vapi, err = newAPI(mux); err != nil {
				v.closeShaped()
				failed(err)
				return
			}
			onOffer = lc.SetOffer
			cryptex = webrtc.RTPHeaderEncryptionPolicyDisable
		}
		a, err := Admit(ctx, hc, srv.URL, sess.ViewerTokens[i], sess.OccurrenceID)
		if err == nil {
			v.client, err = Dial(ctx, Config{API: vapi, Origin: srv.URL, Admission: a, OnTrack: v.onTrack(video), View: view, OnDownOffer: onOffer, DownHeaderEncryption: cryptex})
		}
		if err != nil {
			v.closeShaped()
			failed(err)
			return
		}
		if v.light != nil {
			v.light.SetFeedback(v.client.WriteDownRTCP)
		}
		viewers[i] = v
	}
	joinRange := func(from, to int) {
		log.Info("viewers joining", "from", from, "to", to)
		var joinWG sync.WaitGroup
		if o.Scenario == JoinStorm {
			gap := o.StormWindow / time.Duration(max(1, to-from))
			for i := from; i < to; i++ {
				joinWG.Go(func() { join(i) })
				time.Sleep(gap)
			}
		} else {
			sem := make(chan struct{}, 8)
			for i := from; i < to; i++ {
				sem <- struct{}{}
				joinWG.Go(func() { defer func() { <-sem }(); join(i) })
			}
		}
		joinWG.Wait()
	}
	defer func() {
		var wg sync.WaitGroup
		for _, v := range viewers {
			if v != nil && v.client != nil {
				wg.Go(v.client.Close)
			}
		}
		wg.Wait()
		for _, v := range viewers {
			if v != nil {
				v.closeShaped()
			}
		}
	}()
	// receiving waits until the viewers from..to receive (or 20 s), and returns how many
	// do and their join times.
	receiving := func(from, to int, since time.Time) (connected int, joins []float64) {
		_ = waitUntil(ctx, 20*time.Second, func() bool {
			for _, v := range viewers[from:to] {
				if v != nil && v.firstAt.Load() == 0 {
					return false
				}
			}
			return true
		})
		for _, v := range viewers[from:to] {
			if v == nil {
				continue
			}
			if f := v.firstAt.Load(); f != 0 {
				connected++
				start := v.client.Opened
				if !since.IsZero() {
					start = since
				}
				joins = append(joins, float64(time.Unix(0, f).Sub(start))/1e6)
			}
		}
		return connected, joins
	}
	genCores := float64(runtime.NumCPU())
	if res.Pinned {
		genCores--
	}
	if o.Scenario == Capacity {
		return runCapacity(ctx, o, &res, capacityRun{srv: srv, pubs: pubs, viewers: viewers, genCores: genCores, log: log,
			join: joinRange, receiving: receiving, errs: func() []string {
				if e, ok := firstErr.Load().(string); ok {
					return []string{fmt.Sprintf("%d viewers could not join; first: %s", joinErrs.Load(), e)}
				}
				return nil
			}})
	}
	joinRange(0, o.Viewers)
	var publishedAt time.Time
	if simulcast {
		log.Info("publishing simulcast", "viewers", o.Viewers)
		publishedAt = time.Now()
		for _, p := range simPubs {
			if err := p.publish(); err != nil {
				return res, fmt.Errorf("speaker publishes: %w", err)
			}
			pubWG.Go(func() { p.run(pubCtx) })
		}
		if err := waitUp(); err != nil {
			return res, err
		}
	}
	if e, ok := firstErr.Load().(string); ok {
		res.Errors = append(res.Errors, fmt.Sprintf("%d viewers could not join; first: %s", joinErrs.Load(), e))
	}
	// Everyone receiving? (Simulcast: the viewers were in the room before the publication:
	// time from it.)
	var joins []float64
	res.ViewersConnected, joins = receiving(0, o.Viewers, publishedAt)
	var firstPacket, lastFirst time.Time
	for _, v := range viewers {
		if v == nil {
			continue
		}
		if v.light != nil {
			res.LightViewers++
		} else {
			res.FullViewers++
		}
		if f := v.anyAt.Load(); f != 0 {
			at := time.Unix(0, f)
			if firstPacket.IsZero() || at.Before(firstPacket) {
				firstPacket = at
			}
			if at.After(lastFirst) {
				lastFirst = at
			}
		}
	}
	if simulcast && !firstPacket.IsZero() {
		res.PublishToFirstPacketMs = math.Round(float64(firstPacket.Sub(publishedAt))/1e5) / 10
		res.PublishToLastViewerMs = math.Round(float64(lastFirst.Sub(publishedAt))/1e5) / 10
	}
	res.JoinMsP50, res.JoinMsP95, res.JoinMsMax = percentile(joins, 50), percentile(joins, 95), percentile(joins, 100)
	log.Info("joined", "connected", res.ViewersConnected, "join_ms_p50", res.JoinMsP50, "join_ms_p95", res.JoinMsP95)

	// Warm up, then measure a window.
	sleep(ctx, 2*time.Second)
	log.Info("measuring", "seconds", o.Duration.Seconds())
	w := measureWindow(ctx, srv, pubs, viewers, o.Duration, func() {
		var profiles sync.WaitGroup
		var profileMu sync.Mutex
		for kind, file := range map[string]string{"profile": o.Profile, "allocs": o.AllocProfile} {
			if file == "" {
				continue
			}
			profiles.Go(func() {
				if err := srv.Profile(ctx, kind, o.Duration, file); err != nil {
					profileMu.Lock()
					res.Errors = append(res.Errors, kind+": "+err.Error())
					profileMu.Unlock()
				}
			})
		}
		profiles.Wait()
	})
	w.fill(&res, genCores)
	if simulcast || o.Constrained > 0 {
		res.ViewersByLayer, res.ConstrainedViewersByLayer = &LayerCounts{}, &LayerCounts{}
		end := time.Now()
		for _, v := range viewers {
			if v == nil {
				continue
			}
			counts := res.ViewersByLayer
			if v.constrained {
				counts = res.ConstrainedViewersByLayer
			}
			counts.add(v.finalLayer(end))
			res.LayerSwitches += v.switches.Load()
			_, pauses := v.client.VideoPaused()
			res.VideoPauses += pauses
			if v.shaped != nil {
				res.ConstrainedDrops += v.shaped.Dropped()
			}
		}
		for _, p := range simPubs {
			res.PausedLayers += p.pausedLayers()
			res.LayerPauses += p.pauses.Load()
		}
	}
	for _, v := range viewers {
		if v != nil {
			res.Errors = append(res.Errors, v.client.Errors()...)
		}
	}
	if len(res.Errors) > 10 {
		res.Errors = res.Errors[:10]
	}

	// The floor: the same packets, relayed bare to as many receivers, same CPU, once with
	// one sendto per copy and once with each packet's copies in one sendmmsg; the floor is
	// the better of the two, whatever the SFU's own setting (issue 18).
	if o.Floor {
		stopPublishing()
		pubWG.Wait()
		receivers := o.Viewers + nSpeakers - 1
		floorRate, floorAudio := o.Bitrate, 64
		if simulcast {
			floorAudio = simulcastAudioKbps
			// The floor relays the top layer to everyone: the SFU's unconstrained viewers'
			// stream (the constrained ones get fewer, smaller packets).
			floorRate = simulcastLayers[LayerHigh].bitrate
		}
		for _, batch := range []int{1, maxBatchWrite} {
			fres, err := runFloor(ctx, receivers, nSpeakers, video, floorRate, floorAudio, min(o.Duration, 10*time.Second), serverCPU, batch)
			if err != nil {
				res.Errors = append(res.Errors, "floor: "+err.Error())
				continue
			}
			if batch == 1 {
				res.FloorSendtoUs = fres.usPerPacket
			} else {
				res.FloorSendmmsgUs = fres.usPerPacket
			}
			if fres.usPerPacket > 0 && (res.FloorCPUUsPerPacket == 0 || fres.usPerPacket < res.FloorCPUUsPerPacket) {
				res.FloorPackets = fres.packets
				res.FloorCPUUsPerPacket = fres.usPerPacket
				res.FloorWrites = "sendto"
				if batch > 1 {
					res.FloorWrites = "sendmmsg"
				}
			}
		}
		if res.FloorCPUUsPerPacket > 0 && res.CPUUsPerPacket > 0 {
			res.RatioToFloor = res.CPUUsPerPacket / res.FloorCPUUsPerPacket
		}
	}
	return res, nil
}

// pinPair puts the server on the last CPU and this process (the generator) on the others
// (on two cores: one each). It needs at least two CPUs.
func pinPair(serverPID int) error {
	n := runtime.NumCPU()
	if n < 2 {
		return errors.New("one CPU: nothing to pin")
	}
	if err := Pin(serverPID, n-1); err != nil {
		return err
	}
	if n == 2 {
		return Pin(0, 0)
	}
	return nil
}

func readProcIf(pid int) (ProcSample, error) {
	if pid == 0 {
		return ProcSample{}, errors.New("no pid")
	}
	return ReadProc(pid)
}

// onTrack counts a received track's packets until it ends. It runs once per packet per
// viewer: no allocations, no locks, and as few atomic operations as the readers of the
// counts need.
func (v *viewer) onTrack(video bool) func(Track) {
	return func(t Track) {
		isVideo := t.Remote.Kind() == webrtc.RTPCodecTypeVideo
		st := &trackStats{audio: !isVideo}
		st.highest.Store(-1)
		v.tracks.Store(t.Remote.ID(), st)
		marksJoin := !video || isVideo
		buf := make([]byte, 1600)
		highest := int64(-1)
		for {
			n, _, err := t.Remote.Read(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			// A probe's padding counts for the sequence numbers (loss) but is not media: it
			// does not mark the join's first packet, nor a frame.
			pad := paddingOnly(buf[:n])
			if highest < 0 && !pad {
				v.anyAt.CompareAndSwap(0, time.Now().UnixNano())
			}
			if marksJoin && !pad {
				v.firstAt.CompareAndSwap(0, time.Now().UnixNano())
				marksJoin = false
			}
			ext := extendSeq(highest, uint16(buf[2])<<8|uint16(buf[3]))
			if highest < 0 {
				st.first.Store(ext)
			}
			if ext > highest {
				highest = ext
				st.highest.Store(ext)
			}
			st.packets.Add(1)
			if isVideo && !pad {
				if l, _, ok := FrameLayer(rtpPayload(buf[:n])); ok {
					v.frameAt.Store(time.Now().UnixNano())
					if old := v.layer.Swap(int32(l)); old >= 0 && old != int32(l) {
						v.switches.Add(1)
					}
				}
			}
		}
	}
}

// finalLayer is the layer a viewer receives at end: that of its last marked frame, or
// paused when the server said its video is paused or no frame came in the last second.
func (v *viewer) finalLayer(end time.Time) int {
	if paused, _ := v.client.VideoPaused(); paused {
		return -1
	}
	at := v.frameAt.Load()
	if at == 0 || end.Sub(time.Unix(0, at)) > time.Second {
		return -1
	}
	return int(v.layer.Load())
}

// extendSeq extends a 16-bit RTP sequence number to the value nearest the highest
// extended one so far (-1: none yet), so that wrapping counts up and a late packet from
// before a wrap counts down.
func extendSeq(highest int64, seq uint16) int64 {
	if highest < 0 {
		return int64(seq)
	}
	ext := highest&^0xffff | int64(seq)
	switch {
	case ext < highest-0x8000:
		ext += 0x10000
	case ext > highest+0x8000:
		ext -= 0x10000
	}
	return ext
}

type receipt struct{ packets, expected int64 }

func (r receipt) minus(o receipt) receipt {
	return receipt{packets: r.packets - o.packets, expected: r.expected - o.expected}
}

// lossPercent is the share of packets expected between two readings that did not come.
func lossPercent(r0, r1 receipt) float64 {
	exp := r1.expected - r0.expected
	if exp <= 0 {
		return 0
	}
	return math.Max(0, float64(exp-(r1.packets-r0.packets))) / float64(exp) * 100
}

// Which tracks received sums.
func allTracks(*viewer, *trackStats) bool                   { return true }
func constrainedTracks(v *viewer, _ *trackStats) bool       { return v.constrained }
func audioTracks(_ *viewer, st *trackStats) bool            { return st.audio }
func constrainedAudioTracks(v *viewer, st *trackStats) bool { return v.constrained && st.audio }
func fullTracks(v *viewer, _ *trackStats) bool              { return !v.constrained && v.light == nil }

// received sums what viewers got on the tracks that which selects: packets, and packets
// expected from the sequence numbers seen since each track's first packet (the difference
// between two readings is what was lost in between).
func received(vs []*viewer, which func(*viewer, *trackStats) bool) receipt {
	var r receipt
	for _, v := range vs {
		if v == nil {
			continue
		}
		v.tracks.Range(func(_, val any) bool {
			st := val.(*trackStats)
			if !which(v, st) {
				return true
			}
			r.packets += st.packets.Load()
			if h := st.highest.Load(); h >= 0 {
				r.expected += h - st.first.Load() + 1
			}
			return true
		})
	}
	return r
}

// percentile is the p-th percentile of xs (nearest rank), rounded to a tenth.
func percentile(xs []float64, p int) float64 {
	if len(xs) == 0 {
		return 0
	}
	return math.Round(nearestRank(slices.Sorted(slices.Values(xs)), p)*10) / 10
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func waitUntil(ctx context.Context, d time.Duration, ok func() bool) error {
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// publisher sends a speaker's synthetic camera and microphone, answering keyframe requests.
type publisher struct {
	video, audio *webrtc.TrackLocalStaticRTP
	v            *Video
	a            *Audio
	wantKey      atomic.Bool
	sent         atomic.Int64 // packets written
}

func newPublisher(c *Client, i int, withVideo bool, bitrate int) (*publisher, error) {
	p := &publisher{a: NewAudio()}
	var err error
	tracks := map[webrtc.TrackLocal]string{}
	if p.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		fmt.Sprintf("mic%d", i), fmt.Sprintf("speaker%d", i)); err != nil {
		return nil, err
	}
	tracks[p.audio] = "microphone"
	if withVideo {
		p.v = newVideo(bitrate)
		if p.video, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			fmt.Sprintf("cam%d", i), fmt.Sprintf("speaker%d", i)); err != nil {
			return nil, err
		}
		tracks[p.video] = "camera"
	}
	drain := func(senders []*webrtc.RTPSender) {
		for _, s := range senders {
			if s.Track() == nil || s.Track().Kind() != webrtc.RTPCodecTypeVideo {
				go drainRTCP(s, nil)
				continue
			}
			go drainRTCP(s, &p.wantKey)
		}
	}
	// After a server restart the client publishes again by itself, on new senders.
	c.OnSenders(drain)
	senders, err := c.Publish(tracks)
	if err != nil {
		return nil, err
	}
	drain(senders)
	return p, nil
}

// drainRTCP reads a sender's RTCP (the interceptors need it read) and notes keyframe
// requests.
func drainRTCP(s *webrtc.RTPSender, wantKey *atomic.Bool) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		if wantKey == nil {
			continue
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				wantKey.Store(true)
			}
		}
	}
}

// run paces frames in real time until ctx ends.
func (p *publisher) run(ctx context.Context) {
	pace(ctx, p.a, p.v, func() bool { return p.wantKey.Swap(false) }, func(video bool, pkts []rtp.Packet) {
		track := p.audio
		if video {
			track = p.video
		}
		for i := range pkts {
			_ = track.WriteRTP(&pkts[i])
		}
		p.sent.Add(int64(len(pkts)))
	})
}

// newVideo is NewVideo at bitrate bits per second (0: NewVideo's own).
func newVideo(bitrate int) *Video {
	v := NewVideo()
	if bitrate > 0 {
		v.Bitrate = bitrate
	}
	return v
}

// pace makes one speaker's media in real time until ctx ends: an audio packet every
// a.Interval() and, with v, a video frame every v.Interval(), a keyframe when keyframe
// (nil: never) says one was asked for. send gets each packet or frame (valid until it
// returns).
func pace(ctx context.Context, a *Audio, v *Video, keyframe func() bool, send func(video bool, pkts []rtp.Packet)) {
	at := time.NewTicker(a.Interval())
	defer at.Stop()
	var vc <-chan time.Time
	if v != nil {
		vt := time.NewTicker(v.Interval())
		defer vt.Stop()
		vc = vt.C
	}
	audio := make([]rtp.Packet, 1) // reused: nothing allocated per packet
	for {
		select {
		case <-ctx.Done():
			return
		case <-at.C:
			audio[0] = a.Next()
			send(false, audio)
		case <-vc:
			pkts, _ := v.Next(keyframe != nil && keyframe())
			send(true, pkts)
		}
	}
}

type floorResult struct {
	packets     int64
	usPerPacket float64
}

// runFloor relays the same streams (as many speakers, same rates) through the bare relay to
// receivers sockets, for d, and reads the relay's CPU.
func runFloor(ctx context.Context, receivers, speakers int, video bool, bitrate, audioKbps int, d time.Duration, cpu, batch int) (floorResult, error) {
	f, err := StartFloor(ctx, FloorOptions{Receivers: receivers, Batch: batch, CPU: cpu})
	if err != nil {
		return floorResult{}, err
	}
	sleep(ctx, 500*time.Millisecond) // the relay settles
	s0, _ := ReadProc(f.PID())
	t0 := time.Now()
	fctx, cancel := context.WithDeadline(ctx, t0.Add(d))
	defer cancel()
	var wg sync.WaitGroup
	for i := range speakers {
		var v *Video
		if video {
			v = newVideo(bitrate)
		}
		buf := make([]byte, 1500)
		wg.Go(func() {
			pace(fctx, NewAudioKbps(audioKbps), v, nil, func(isVideo bool, pkts []rtp.Packet) {
				ssrc := uint32(1000 + i)
				if isVideo {
					ssrc = uint32(2000 + i)
				}
				for j := range pkts {
					pkts[j].SSRC = ssrc
					if n, err := pkts[j].MarshalTo(buf); err == nil {
						_ = f.Send(buf[:n])
					}
				}
			})
		})
	}
	wg.Wait()
	sleep(ctx, 300*time.Millisecond) // in-flight packets
	s1, _ := ReadProc(f.PID())
	stats, err := f.Close()
	if err != nil {
		return floorResult{}, err
	}
	r := floorResult{packets: stats.Out}
	if stats.Out > 0 {
		r.usPerPacket = (s1.CPU - s0.CPU).Seconds() * 1e6 / float64(stats.Out)
	}
	return r, nil
}

// window is what was read at the start and at the end of a measured window.
type window struct {
	elapsed                          float64
	m0, m1                           map[string]float64 // the server's metrics
	s0, s1                           ProcSample         // the server process
	g0, g1                           ProcSample         // this process (the generator)
	p0, p1                           int64              // packets the speakers sent (not simulcast)
	v0, v1                           []int64            // packets each unconstrained viewer received
	viewers                          []*viewer
	pid                              int
	r0, r1, c0, c1, a0, a1, ca0, ca1 receipt
	f0, f1                           receipt // unconstrained viewers on the full path
}

var windowMetrics = []string{"puente_sfu_forwarded_packets_total", "puente_sfu_forwarded_bytes_total", "go_goroutines", "go_memstats_mallocs_total", "puente_sfu_paused_videos"}

// measureWindow reads the figures, runs during (nil: sleeps d) and reads them again.
func measureWindow(ctx context.Context, srv *Server, pubs []*publisher, viewers []*viewer, d time.Duration, during func()) window {
	w := window{pid: srv.PID, viewers: viewers}
	each := func() []int64 {
		n := make([]int64, len(viewers))
		for i, v := range viewers {
			if v != nil && !v.constrained {
				n[i] = received([]*viewer{v}, allTracks).packets
			}
		}
		return n
	}
	sent := func() (n int64) {
		for _, p := range pubs {
			n += p.sent.Load()
		}
		return n
	}
	read := func() (m map[string]float64, s, g ProcSample, r, c, a, ca, f receipt) {
		m, _ = Metrics(ctx, srv.URL, windowMetrics...)
		s, _ = readProcIf(srv.PID)
		g, _ = ReadProc(os.Getpid())
		return m, s, g, received(viewers, allTracks), received(viewers, constrainedTracks), received(viewers, audioTracks),
			received(viewers, constrainedAudioTracks), received(viewers, fullTracks)
	}
	w.p0, w.v0 = sent(), each()
	w.m0, w.s0, w.g0, w.r0, w.c0, w.a0, w.ca0, w.f0 = read()
	t0 := time.Now()
	sleeping := func() { sleep(ctx, d) }
	var wg sync.WaitGroup
	wg.Go(sleeping)
	if during != nil {
		wg.Go(during)
	}
	wg.Wait()
	w.elapsed = time.Since(t0).Seconds()
	w.m1, w.s1, w.g1, w.r1, w.c1, w.a1, w.ca1, w.f1 = read()
	w.p1, w.v1 = sent(), each()
	return w
}

// packets is how many packets the server forwarded in the window.
func (w window) packets() float64 {
	return w.m1["puente_sfu_forwarded_packets_total"] - w.m0["puente_sfu_forwarded_packets_total"]
}

// fill sets the window's figures in res: rates, loss, the server's and the generator's
// CPU (genCores: the generator's cores).
func (w window) fill(res *Result, genCores float64) {
	elapsed, pkts := w.elapsed, w.packets()
	res.DurationS = elapsed
	res.ForwardedPPS = pkts / elapsed
	res.ForwardedMbps = (w.m1["puente_sfu_forwarded_bytes_total"] - w.m0["puente_sfu_forwarded_bytes_total"]) * 8 / elapsed / 1e6
	res.ReceivedPPS = float64(w.r1.packets-w.r0.packets) / elapsed
	res.PublishedPPS = float64(w.p1-w.p0) / elapsed
	res.PausedVideos = int(w.m1["puente_sfu_paused_videos"])
	if sent := w.p1 - w.p0; sent > 0 {
		for i, v := range w.viewers {
			if v != nil && !v.constrained && w.v1[i]-w.v0[i] < sent/2 {
				res.ViewersStarved++
			}
		}
	}
	for _, v := range w.viewers {
		if v != nil && v.client != nil && v.client.DownState() != webrtc.PeerConnectionStateConnected {
			res.ViewersDownNotConnected++
		}
		if v != nil && v.light != nil {
			res.LightSocketDrops += v.light.Drops()
		}
	}
	res.LossPercent = lossPercent(w.r0.minus(w.c0), w.r1.minus(w.c1))
	res.FullViewerLossPercent = lossPercent(w.f0, w.f1)
	res.ConstrainedLossPercent = lossPercent(w.c0, w.c1)
	res.AudioLossPercent = lossPercent(w.a0, w.a1)
	res.ConstrainedAudioLossPercent = lossPercent(w.ca0, w.ca1)
	for _, v := range w.viewers {
		if v != nil && received([]*viewer{v}, audioTracks).packets > 0 {
			res.ViewersWithAudio++
		}
	}
	res.ServerGoroutines = int(w.m1["go_goroutines"])
	if pkts > 0 {
		// Every allocation of the server in the window (websockets, RTCP, ICE included),
		// per forwarded packet.
		res.ServerAllocsPerPacket = math.Round((w.m1["go_memstats_mallocs_total"]-w.m0["go_memstats_mallocs_total"])/pkts*100) / 100
	}
	if w.pid != 0 {
		cpu := (w.s1.CPU - w.s0.CPU).Seconds()
		res.ServerCPUS = cpu
		res.ServerCPUPercent = cpu / elapsed * 100
		res.ServerRSSMB = float64(w.s1.RSSBytes) / (1 << 20)
		if pkts > 0 {
			res.CPUUsPerPacket = cpu * 1e6 / pkts
		}
	}
	res.GeneratorCPUPercent = (w.g1.CPU - w.g0.CPU).Seconds() / elapsed * 100
	res.GeneratorBottleneck = res.GeneratorCPUPercent > 90*genCores
}
