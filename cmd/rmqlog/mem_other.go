//go:build !linux

package main

// physicalMemory is the machine's RAM in bytes: unknown here, 1 GiB.
func physicalMemory() int64 { return 1 << 30 }
