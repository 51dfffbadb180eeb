package bwe

import (
	"net"
	"runtime"
	"sync"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

func loopbackSettings() webrtc.SettingEngine {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return se
}

// TestEstimateOnLoadedLoopback: over loopback, with every core kept busy by spinning
// goroutines (so packets are read, and their arrival noted, late and in bursts), the
// estimate never steps down (by more than 10% from the highest so far) over 15 s while it
// climbs with probes: scheduling jitter is not congestion.
func TestEstimateOnLoadedLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("real peers for several seconds")
	}
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				for i := range 100_000 {
					x += i
				}
			}
		}()
	}
	defer wg.Wait()
	defer close(stop)
	highest, checks := 0, 0
	estimateBetween(t, loopbackSettings(), loopbackSettings(), true, func(bps int) bool {
		checks++
		if bps < highest*9/10 {
			t.Errorf("the estimate fell from %d to %d bps on a loopback without any limit", highest, bps)
		}
		highest = max(highest, bps)
		return checks >= 15
	})
	t.Logf("highest estimate %d bps", highest)
}
