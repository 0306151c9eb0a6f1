package flush_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/flush"
)

func TestParseMode(t *testing.T) {
	tests := []struct {
		in      string
		want    flush.Mode
		wantErr bool
	}{
		{"SYNC_FLUSH", flush.SyncFlush, false},
		{"ASYNC_FLUSH", flush.AsyncFlush, false},
		{"sync_flush", 0, true},
		{"Async_Flush", 0, true},
		{" SYNC_FLUSH", 0, true},
		{"SYNC_FLUSH ", 0, true},
		{"SYNC", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := flush.ParseMode(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseMode(%q) = %v, want error", tt.in, got)
				continue
			}
			msg := err.Error()
			for _, part := range []string{`"` + tt.in + `"`, "SYNC_FLUSH", "ASYNC_FLUSH"} {
				if !strings.Contains(msg, part) {
					t.Errorf("ParseMode(%q) error %q does not mention %s", tt.in, msg, part)
				}
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tt.in)
		}
	}
}

func TestModeStringUnknown(t *testing.T) {
	if got := flush.Mode(7).String(); got != "Mode(7)" {
		t.Errorf("Mode(7).String() = %q", got)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  flush.Options
	}{
		{"unknown mode", flush.Options{Mode: 2}},
		{"negative mode", flush.Options{Mode: -1}},
		{"negative interval", flush.Options{Mode: flush.AsyncFlush, Interval: -time.Second}},
		{"negative checkpoint interval", flush.Options{CheckpointInterval: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := newTestLog()
			if f, err := flush.New(log, tt.opt); err == nil {
				f.Close()
				t.Fatalf("New(%+v) succeeded, want error", tt.opt)
			}
			if n := get(log, func(l *testLog) int { return l.syncCalls }); n != 0 {
				t.Errorf("New with bad options called Sync %d times", n)
			}
		})
	}
}

func TestNewSyncFails(t *testing.T) {
	injected := errors.New("disk on fire")
	log := newTestLog()
	log.err = injected
	f, err := flush.New(log, flush.Options{})
	if f != nil || !errors.Is(err, injected) || !strings.HasPrefix(err.Error(), "flush: sync failed: ") {
		t.Fatalf("New = %v, %v; want nil, flush: sync failed: %v", f, err, injected)
	}
}

func TestNewSyncsExisting(t *testing.T) {
	log := newTestLog()
	log.append(5)
	f := newFlusher(t, log, flush.Options{})
	if got := f.Durable(); got != 5 {
		t.Errorf("Durable() after New = %d, want 5", got)
	}
	if got := get(log, func(l *testLog) int { return len(l.syncs) }); got != 1 {
		t.Errorf("New did %d syncs, want 1", got)
	}
	if s := f.Stats(); s != (flush.Stats{}) {
		t.Errorf("Stats after New = %+v, want zero (New's sync is not counted)", s)
	}
	if err := f.Err(); err != nil {
		t.Errorf("Err() = %v", err)
	}
}
