//go:build !linux

package bench

// RaiseFileLimit does nothing outside Linux (Go raises the soft limit on
// some systems by itself); 0 means the limit is unknown.
func RaiseFileLimit() (uint64, error) { return 0, nil }
