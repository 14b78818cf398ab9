package localrun

import (
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// The test process is a Go process too: its sysmon thread (the second it made) has run and
// woken, and is a part of the whole process's count, not all of it. Without /proc (not
// Linux) both counts are zero, as documented.
func TestMonitorSchedStatIsPartOfTheProcess(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	if runtime.GOOS != "linux" {
		if c, w := MonitorSchedStat(pid); c != 0 || w != 0 {
			t.Fatalf("without /proc: %v %d, want zeros", c, w)
		}
		return
	}
	for range 50 { // bursts of work after waits: sysmon is woken for each
		time.Sleep(time.Millisecond)
		for i := 0; i < 100_000; i++ {
			_ = strconv.Itoa(i)
		}
	}
	monCPU, monWakes := MonitorSchedStat(pid)
	allCPU, allWakes := SchedStat(pid)
	if monCPU <= 0 || monWakes <= 0 {
		t.Fatalf("sysmon: %v on a CPU, %d wake-ups; want both above 0", monCPU, monWakes)
	}
	if monCPU >= allCPU || monWakes >= allWakes {
		t.Fatalf("sysmon %v / %d wake-ups, not a part of the process's %v / %d", monCPU, monWakes, allCPU, allWakes)
	}
	if c, w := MonitorSchedStat("not-a-pid"); c != 0 || w != 0 {
		t.Fatalf("a pid that is not one: %v %d, want zeros", c, w)
	}
}
