package loadtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// The capacity scenario: one speaker as in webinar (VP8 at --bitrate and Opus), viewers
// added Step at a time; each step is measured over a window of Duration after a warm-up,
// until a step passes a limit. The server is pinned to one core, so the last step under
// the limits is its number of viewers per core.

// CapacityPoint is one step of a capacity run.
type CapacityPoint struct {
	Viewers          int     `json:"viewers"`
	ViewersConnected int     `json:"viewers_connected"` // viewers receiving media
	ViewersStarved   int     `json:"viewers_starved"`   // ... of which less than half of it in the window
	ServerCPUPercent float64 `json:"server_cpu_percent"`
	LossPercent      float64 `json:"loss_percent"`
	JoinMsP95        float64 `json:"join_ms_p95"` // of the viewers that joined in this step
	CPUUsPerPacket   float64 `json:"cpu_us_per_packet"`
	ForwardedPPS     float64 `json:"forwarded_pps"`
	// Of the packets the speaker sent, the share the average viewer received (padding
	// included: with estimation on it can pass 100%), and the videos the server had paused
	// for viewers' bandwidth estimates at the end of the step.
	DeliveredPercent    float64 `json:"delivered_percent"`
	PausedVideos        int     `json:"paused_videos"`
	GeneratorCPUPercent float64 `json:"generator_cpu_percent"`
	GeneratorBottleneck bool    `json:"generator_bottleneck"`
}

// The limits of a capacity step.
const (
	capacityMaxLossPercent = 1.0
	capacityMaxCPUPercent  = 95.0
	// A step where the viewers got less than this share of what the speaker sent (video
	// paused, frames not sent) is past the server's capacity too, even without loss.
	capacityMinDeliveredPercent = 95.0
)

// Why a capacity run stopped (Result.StoppedBy).
const (
	StopLoss         = "loss"            // the step's loss passed 1%
	StopServerCPU    = "server_cpu"      // the server's core passed 95%
	StopNotReceiving = "not_receiving"   // some viewers received no media within 20 s, or less than half of it in the window
	StopDelivered    = "under_delivered" // viewers got less than 95% of what the speaker sent
	StopGenerator    = "generator"       // the generator ran out of CPU: not a server capacity
	StopMaxViewers   = "max_viewers"     // every step up to --viewers stayed under the limits
)

// ErrGeneratorBottleneck: a capacity step was limited by the generator, not by the server.
var ErrGeneratorBottleneck = errors.New("the generator is the bottleneck")

// capacityStop says whether a step passed a limit, and which (""; none). A generator out
// of CPU comes first: the step's loss and join times are then the generator's.
func capacityStop(p CapacityPoint) string {
	switch {
	case p.GeneratorBottleneck:
		return StopGenerator
	case p.ViewersConnected < p.Viewers || p.ViewersStarved > 0:
		return StopNotReceiving
	case p.LossPercent > capacityMaxLossPercent:
		return StopLoss
	case p.ServerCPUPercent > capacityMaxCPUPercent:
		return StopServerCPU
	case p.DeliveredPercent < capacityMinDeliveredPercent:
		return StopDelivered
	}
	return ""
}

// capacityRun is what runCapacity needs of Run's set-up.
type capacityRun struct {
	srv      *Server
	pubs     []*publisher
	viewers  []*viewer
	genCores float64
	log      *slog.Logger
	join     func(from, to int) // viewers from..to join
	// receiving waits for viewers from..to to receive, and gives how many do and their
	// join times.
	receiving func(from, to int, since time.Time) (int, []float64)
	errs      func() []string // the joins' errors so far
}

// runCapacity runs the steps. The top-level figures of the result are those of the last
// step measured.
func runCapacity(ctx context.Context, o Options, res *Result, c capacityRun) (Result, error) {
	if o.Step < 1 {
		return *res, fmt.Errorf("capacity: step %d", o.Step)
	}
	res.Step = o.Step
	under, joined := 0, 0
	for {
		target := min(joined+o.Step, o.Viewers)
		c.join(joined, target)
		_, joins := c.receiving(joined, target, time.Time{})
		joined = target
		sleep(ctx, 2*time.Second) // warm-up
		c.log.Info("measuring a capacity step", "viewers", target, "seconds", o.Duration.Seconds())
		w := measureWindow(ctx, c.srv, c.pubs, c.viewers[:target], o.Duration, nil)
		if err := ctx.Err(); err != nil {
			return *res, err
		}
		step := Result{}
		w.fill(&step, c.genCores)
		p := CapacityPoint{Viewers: target, ServerCPUPercent: step.ServerCPUPercent, LossPercent: step.LossPercent,
			JoinMsP95: percentile(joins, 95), CPUUsPerPacket: step.CPUUsPerPacket, ForwardedPPS: step.ForwardedPPS,
			GeneratorCPUPercent: step.GeneratorCPUPercent, GeneratorBottleneck: step.GeneratorBottleneck, PausedVideos: step.PausedVideos, ViewersStarved: step.ViewersStarved}
		if step.PublishedPPS > 0 {
			p.DeliveredPercent = step.ReceivedPPS / float64(target) / step.PublishedPPS * 100
		}
		for _, v := range c.viewers[:target] {
			if v != nil && v.firstAt.Load() != 0 {
				p.ViewersConnected++
			}
		}
		res.Curve = append(res.Curve, p)
		c.log.Info("capacity step", "viewers", target, "server_cpu_percent", p.ServerCPUPercent, "loss_percent", p.LossPercent,
			"delivered_percent", p.DeliveredPercent, "paused_videos", p.PausedVideos,
			"generator_cpu_percent", p.GeneratorCPUPercent, "join_ms_p95", p.JoinMsP95)

		// The top level: the last step's figures.
		keep := *res
		*res = step
		res.Scenario, res.Speakers, res.BatchWrites, res.AdaptToBandwidth, res.Pinned = keep.Scenario, keep.Speakers, keep.BatchWrites, keep.AdaptToBandwidth, keep.Pinned
		res.Step, res.Curve, res.Errors = keep.Step, keep.Curve, keep.Errors
		res.Viewers, res.ViewersConnected, res.JoinMsP95 = target, p.ViewersConnected, p.JoinMsP95
		res.JoinMsP50, res.JoinMsMax = percentile(joins, 50), percentile(joins, 100)

		stop := capacityStop(p)
		if stop == "" {
			under = target
			if target == o.Viewers {
				stop = StopMaxViewers
			}
		}
		if stop != "" {
			res.StoppedBy = stop
			break
		}
	}
	for _, v := range c.viewers[:joined] {
		switch {
		case v == nil:
		case v.light != nil:
			res.LightViewers++
		default:
			res.FullViewers++
		}
		if v != nil {
			res.Errors = append(res.Errors, v.client.Errors()...)
		}
	}
	res.Errors = append(c.errs(), res.Errors...)
	if len(res.Errors) > 10 {
		res.Errors = res.Errors[:10]
	}
	res.CapacityAtLeast = &under
	switch res.StoppedBy {
	case StopLoss, StopServerCPU, StopNotReceiving, StopDelivered:
		// The server is pinned to one core: its viewers per core.
		if res.Pinned {
			res.MaxViewersPerCore = &under
		} else {
			res.Errors = append(res.Errors, "the server was not pinned to one core: no viewers per core")
		}
	case StopGenerator:
		last := res.Curve[len(res.Curve)-1]
		err := fmt.Errorf("%w at %d viewers (%.0f%% CPU of its %g cores): the server was at %.0f%% of its core, not at a limit; %d viewers were under the limits",
			ErrGeneratorBottleneck, last.Viewers, last.GeneratorCPUPercent, c.genCores, last.ServerCPUPercent, under)
		res.Errors = append([]string{err.Error()}, res.Errors...)
		return *res, err
	}
	return *res, nil
}
