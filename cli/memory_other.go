//go:build !linux

package cli

// physicalMemory is unknown off Linux; callers fall back to a fixed default.
func physicalMemory() int64 { return 0 }
