package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is a process's resident set as /proc/PID/status tells it (Linux).
type Memory struct {
	RSS  uint64 `json:"rss_bytes"`  // VmRSS
	Peak uint64 `json:"peak_bytes"` // VmHWM, the largest RSS since the process started
}

// ReadMemory reads VmRSS and VmHWM of process pid.
func ReadMemory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("reading the memory of pid %d: %w (this needs Linux and a process on this machine)", pid, err)
	}
	defer f.Close()
	var m Memory
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(val) // "123456 kB"
		if len(fields) == 0 {
			continue
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			continue
		}
		if key == "VmRSS" {
			m.RSS, found = kb*1024, true
		} else {
			m.Peak = kb * 1024
		}
	}
	if err := sc.Err(); err != nil {
		return Memory{}, err
	}
	if !found {
		return Memory{}, fmt.Errorf("pid %d: no VmRSS in /proc/%d/status", pid, pid)
	}
	return m, nil
}
