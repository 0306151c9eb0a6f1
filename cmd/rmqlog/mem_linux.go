package main

import "syscall"

// physicalMemory is the machine's RAM in bytes (1 GiB if unknown), the
// base of accessMessageInMemoryMaxRatio.
func physicalMemory() int64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil || si.Totalram == 0 {
		return 1 << 30
	}
	return int64(si.Totalram) * int64(si.Unit)
}
