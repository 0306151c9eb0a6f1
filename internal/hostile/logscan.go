package hostile

import (
	"bytes"
	"os"
	"regexp"
	"strings"
)

// nodeLog reads what a node appended to its log file since an offset.
type nodeLog struct{ path string }

// size is the log's current length: the offset a case starts reading at.
func (l nodeLog) size() int64 {
	fi, err := os.Stat(l.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// since returns the whole lines written from offset off on.
func (l nodeLog) since(off int64) []string {
	f, err := os.Open(l.path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(off, 0); err != nil {
		return nil
	}
	var buf bytes.Buffer
	buf.ReadFrom(f)
	b := buf.Bytes()
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	} else {
		return nil
	}
	return strings.Split(string(b), "\n")
}

// timeField matches the time attribute slog's text handler starts a line with.
var timeField = regexp.MustCompile(`^time=\S+ `)

// shortLine is a log line without its time, at most n bytes.
func shortLine(line string, n int) string {
	line = timeField.ReplaceAllString(line, "")
	if len(line) > n {
		line = line[:n-3] + "..."
	}
	return line
}
