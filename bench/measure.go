package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is the user and system CPU time of this process and of its
// waited-for children.
type cpuSample struct{ user, sys time.Duration }

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

func sampleCPU() cpuSample {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	return cpuSample{user: tv(self.Utime) + tv(kids.Utime), sys: tv(self.Stime) + tv(kids.Stime)}
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTick = 10 * time.Millisecond

// procCPU reads the user and system time of a running process from
// /proc/PID/stat ("self" for this one).
func procCPU(pid string) (cpuSample, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return cpuSample{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return cpuSample{}, fmt.Errorf("bad /proc/%s/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return cpuSample{}, fmt.Errorf("bad /proc/%s/stat", pid)
	}
	// After the command: state(0) ppid ... utime is field 14 overall, 11 here.
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return cpuSample{user: time.Duration(u) * clockTick, sys: time.Duration(s) * clockTick}, nil
}

// vmHWM is the peak resident set size (VmHWM) of a process in bytes.
func vmHWM(pid string) int64 {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// resetPeak resets a process's VmHWM to its current RSS (Linux clear_refs
// "5"); it reports whether that worked.
func resetPeak(pid string) bool {
	return os.WriteFile("/proc/"+pid+"/clear_refs", []byte("5"), 0) == nil
}
