package bench

import "syscall"

// RaiseFileLimit lifts the soft limit on open files to the hard limit, so
// that thousands of sockets fit, and returns the limit now in force. (Go's
// runtime does the same at start-up since Go 1.19; doing it here keeps it
// explicit and tells the caller the limit.)
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return lim.Cur, nil
}
