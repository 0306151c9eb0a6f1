package admin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"unicode/utf8"

	"github.com/rmqlog/rmqlog/segment"
)

// LogDir returns the log directory for a node's data directory: dir itself
// when it holds a checkpoint, else dir/commitlog when that does.
func LogDir(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "checkpoint")); err == nil {
		return dir
	}
	if _, err := os.Stat(filepath.Join(dir, "commitlog", "checkpoint")); err == nil {
		return filepath.Join(dir, "commitlog")
	}
	return dir
}

// DumpOptions select what Dump prints.
type DumpOptions struct {
	From, To uint64 // index range; 0 = unbounded
	Payload  string // "none", "text" (quoted, the default) or "hex"
	Max      int    // payload bytes shown per entry; 0 = 64
}

// Dump decodes the log in dir (a stopped node's storePathRootDir or
// commitlog directory) and writes one line per entry, then a summary of
// where and why the log ends.
func Dump(w io.Writer, dir string, opt DumpOptions) (segment.ScanEnd, error) {
	if opt.Max == 0 {
		opt.Max = 64
	}
	switch opt.Payload {
	case "":
		opt.Payload = "text"
	case "none", "text", "hex":
	default:
		return segment.ScanEnd{}, fmt.Errorf("dump: --payload %q: want none, text or hex", opt.Payload)
	}
	ld := LogDir(dir)
	fmt.Fprintf(w, "# log %s\n# index term type bytes crc32c offset file payload\n", ld)
	end, err := segment.Scan(ld, func(s segment.Scanned) error {
		if s.Index < opt.From {
			return nil
		}
		if opt.To != 0 && s.Index > opt.To {
			return segment.ErrScanStopped
		}
		_, err := fmt.Fprintf(w, "%d %d %s %d %08x %d %s %s\n", s.Index, s.Term, typeName(s.Type), len(s.Payload),
			s.CRC, s.Offset, filepath.Base(s.File), payload(s.Payload, opt))
		return err
	})
	if errors.Is(err, segment.ErrScanStopped) {
		err, end.Reason, end.File = nil, fmt.Sprintf("--to %d reached (the log goes on)", opt.To), ""
	}
	if err != nil {
		return end, err
	}
	fmt.Fprintf(w, "# %d entries [%d, %d] in %d data files (segment size %d); entries below %d were fsynced at the last checkpoint\n",
		end.Entries, end.First, end.Last, end.Files, end.SegmentSize, end.DurableBelow)
	fmt.Fprintf(w, "# stopped: %s", end.Reason)
	if end.File != "" {
		fmt.Fprintf(w, " (at offset %d in %s)", end.Offset, filepath.Base(end.File))
	}
	fmt.Fprintln(w)
	return end, nil
}

func typeName(t segment.Type) string {
	switch t {
	case segment.TypeNormal:
		return "msg"
	case segment.TypeNoop:
		return "noop"
	case segment.TypeConfig:
		return "config"
	}
	return strconv.Itoa(int(t))
}

func payload(p []byte, opt DumpOptions) string {
	switch opt.Payload {
	case "none":
		return "-"
	case "hex":
		if len(p) > opt.Max {
			return fmt.Sprintf("%x...", p[:opt.Max])
		}
		return fmt.Sprintf("%x", p)
	}
	return preview(p, opt.Max)
}

// preview quotes up to n bytes of p.
func preview(p []byte, n int) string {
	if len(p) <= n {
		return strconv.Quote(string(p))
	}
	cut := p[:n]
	for len(cut) > 0 && !utf8.Valid(cut) {
		cut = cut[:len(cut)-1]
	}
	return strconv.Quote(string(cut)) + "..."
}
