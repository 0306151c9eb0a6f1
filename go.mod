module github.com/rmqlog/rmqlog

go 1.26.8

require (
	github.com/edsrzf/mmap-go v1.2.0
	github.com/klauspost/crc32 v1.3.0
	golang.org/x/sys v0.50.0
)

require github.com/HdrHistogram/hdrhistogram-go v1.4.0
