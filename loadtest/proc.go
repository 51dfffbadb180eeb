package loadtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ProcSample is what the kernel says about a process at one moment. Goroutines are not
// visible from outside a Go process: the server reports those itself.
type ProcSample struct {
	CPU      time.Duration // user + system time of all its threads (utime+stime), finished ones included
	RSSBytes int64         // resident set size (VmRSS)
	Threads  int           // OS threads
	At       time.Time     // when it was read
}

// ReadProc reads /proc/<pid>/stat (utime and stime, fields 14 and 15, in clock ticks) and
// /proc/<pid>/status (VmRSS, Threads).
//
// Clock ticks are converted with the kernel's USER_HZ, read from the AT_CLKTCK entry of
// the process's ELF auxiliary vector (what sysconf(_SC_CLK_TCK) returns, without cgo); it is
// 100 on every Linux architecture Go supports, which is the fallback. The resolution is
// therefore 10 ms: sample over seconds, not milliseconds.
func ReadProc(pid int) (ProcSample, error) {
	var s ProcSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read process %d: %w", pid, err)
	}
	s.At = time.Now()
	// The command name (field 2) is in parentheses and may itself hold spaces and ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(stat[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: only %d fields", pid, len(f)+2)
	}
	utime, err1 := strconv.ParseUint(f[14-3], 10, 64)
	stime, err2 := strconv.ParseUint(f[15-3], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	hz := uint64(clockTicks())
	ticks := utime + stime
	s.CPU = time.Duration(ticks/hz)*time.Second + time.Duration(ticks%hz)*time.Second/time.Duration(hz)

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read process %d: %w", pid, err)
	}
	// A zombie has no VmRSS line: it holds no memory, and RSSBytes stays 0.
	sawThreads := false
	for line := range strings.Lines(string(status)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "VmRSS": // "1234 kB"
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
			if err != nil {
				return s, fmt.Errorf("/proc/%d/status VmRSS %q: %w", pid, v, err)
			}
			s.RSSBytes = n * 1024
		case "Threads":
			n, err := strconv.Atoi(v)
			if err != nil {
				return s, fmt.Errorf("/proc/%d/status Threads %q: %w", pid, v, err)
			}
			s.Threads, sawThreads = n, true
		}
	}
	if !sawThreads {
		return s, fmt.Errorf("/proc/%d/status has no Threads line", pid)
	}
	return s, nil
}

// atClkTck is AT_CLKTCK from <elf.h>: the auxiliary vector entry holding USER_HZ.
const atClkTck = 17

var clockTicks = sync.OnceValue(func() int64 {
	if aux, err := unix.Auxv(); err == nil {
		for _, kv := range aux {
			if kv[0] == atClkTck && kv[1] > 0 {
				return int64(kv[1])
			}
		}
	}
	return 100
})

// OnlineCPUs is the number of CPUs the machine has online (from
// /sys/devices/system/cpu/online), which is what Pin accepts. It can exceed
// runtime.NumCPU, which counts only the CPUs this process was allowed to run on at start
// (a generator started under taskset still pins the server elsewhere).
func OnlineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for r := range strings.SplitSeq(strings.TrimSpace(string(b)), ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return runtime.NumCPU()
		}
		z := a
		if isRange {
			if z, err = strconv.Atoi(hi); err != nil {
				return runtime.NumCPU()
			}
		}
		if z+1 > n {
			n = z + 1
		}
	}
	if n == 0 {
		return runtime.NumCPU()
	}
	return n
}

// Pin restricts every thread of process pid (0: the calling process) to one CPU.
//
// sched_setaffinity applies to one thread, and a Go process has several, so Pin sets each
// thread listed under /proc/<pid>/task; threads created later inherit the mask of the thread
// that creates them. A thread that starts while Pin runs could escape: pinning again is
// cheap, so callers re-pin once the process is up (StartFloor does).
func Pin(pid int, cpu int) error {
	if n := OnlineCPUs(); cpu < 0 || cpu >= n {
		return fmt.Errorf("pin process %d to CPU %d: this machine has CPUs 0 to %d", pid, cpu, n-1)
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := setAffinity(pid, &set); err != nil {
		return fmt.Errorf("pin process %d to CPU %d: %w", pid, cpu, err)
	}
	return nil
}

// setAffinity sets the CPU mask of every thread of pid (0: this process).
func setAffinity(pid int, set *unix.CPUSet) error {
	dir := "/proc/self/task"
	if pid != 0 {
		dir = fmt.Sprintf("/proc/%d/task", pid)
	}
	// Threads can appear while we work: go round until a pass finds none new.
	done := map[int]bool{}
	for pass := 0; pass < 10; pass++ {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		fresh := 0
		for _, e := range entries {
			tid, err := strconv.Atoi(filepath.Base(e.Name()))
			if err != nil || done[tid] {
				continue
			}
			fresh++
			if err := unix.SchedSetaffinity(tid, set); err != nil {
				if errors.Is(err, unix.ESRCH) { // the thread exited meanwhile
					continue
				}
				if errors.Is(err, unix.EINVAL) {
					return fmt.Errorf("thread %d: the CPU is not available to this process (cpuset or cgroup): %w", tid, err)
				}
				return fmt.Errorf("thread %d: %w", tid, err)
			}
			done[tid] = true
		}
		if fresh == 0 {
			return nil
		}
	}
	return nil
}
