package loadtest

import (
	"crypto/sha256"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestProcReadSelf(t *testing.T) {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU < 0 || s.CPU > time.Hour {
		t.Errorf("CPU %v", s.CPU)
	}
	if s.RSSBytes < 1<<20 || s.RSSBytes > 64<<30 {
		t.Errorf("RSS %d bytes", s.RSSBytes)
	}
	tasks, _ := os.ReadDir("/proc/self/task")
	if s.Threads < 1 || s.Threads > 2*len(tasks)+10 {
		t.Errorf("threads %d (tasks listed: %d)", s.Threads, len(tasks))
	}
	if time.Since(s.At) > time.Minute || s.At.After(time.Now()) {
		t.Errorf("At %v", s.At)
	}
	if hz := clockTicks(); hz != 100 {
		t.Logf("USER_HZ is %d", hz)
	}
	if _, err := ReadProc(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

func TestProcCPUGrows(t *testing.T) {
	s0, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		for range 10000 {
			sum = sha256.Sum256(sum[:])
		}
		s1, err := ReadProc(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if d := s1.CPU - s0.CPU; d >= 100*time.Millisecond {
			wall := s1.At.Sub(s0.At)
			t.Logf("CPU grew by %v in %v of wall time", d, wall)
			if d > wall*time.Duration(runtime.NumCPU())+20*time.Millisecond {
				t.Errorf("CPU %v in %v on %d CPUs", d, wall, runtime.NumCPU())
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU did not grow: %v then %v", s0.CPU, s1.CPU)
		}
	}
}

func TestProcPin(t *testing.T) {
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := setAffinity(0, &orig); err != nil {
			t.Errorf("restoring the affinity: %v", err)
		}
	})
	cpu := 0
	if !orig.IsSet(0) { // a restricted cpuset: use a CPU we may run on
		for cpu = 0; !orig.IsSet(cpu); cpu++ {
		}
	}
	if err := Pin(0, cpu); err != nil {
		t.Fatal(err)
	}
	assertPinned(t, os.Getpid(), cpu)
	// Threads started afterwards inherit the mask.
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil || set.Count() != 1 || !set.IsSet(cpu) {
			t.Errorf("a new thread's mask: %v (%d CPUs) %v", set.IsSet(cpu), set.Count(), err)
		}
		close(done)
	}()
	<-done

	for _, bad := range []int{-1, OnlineCPUs(), OnlineCPUs() + 5} {
		if err := Pin(0, bad); err == nil {
			t.Errorf("Pin to CPU %d: no error", bad)
		} else {
			t.Logf("Pin to CPU %d: %v", bad, err)
		}
	}
	if runtime.NumCPU() == OnlineCPUs() {
		if err := Pin(0, runtime.NumCPU()); err == nil {
			t.Errorf("Pin to CPU NumCPU=%d: no error", runtime.NumCPU())
		}
	}
	if err := Pin(1<<30, 0); err == nil {
		t.Error("Pin of a process that does not exist: no error")
	}
}

// assertPinned checks that every thread of pid may run on cpu only.
func assertPinned(t *testing.T, pid, cpu int) {
	t.Helper()
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		tid, _ := strconv.Atoi(e.Name())
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &set); err != nil {
			continue // exited
		}
		if set.Count() != 1 || !set.IsSet(cpu) {
			t.Errorf("thread %d of %d: %d CPUs allowed, CPU %d: %v", tid, pid, set.Count(), cpu, set.IsSet(cpu))
		}
	}
}
