package config_test

import (
	"bytes"
	"errors"
	"net"
	"path/filepath"
	"testing"

	"github.com/rmqlog/rmqlog/config"
)

// FuzzParse feeds arbitrary files to Parse. It must never panic; a refusal
// is an *Error; an accepted file yields a Config that keeps every rule; and
// for files without backslashes (where the line finder's reading of the
// grammar is simple) every warning has a line. The seeds in
// testdata/fuzz/FuzzParse are the seed's file, a tricky one and a bad one.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "brokerId=0\nlistenPort=1\nlistenPort=2\nmetricsAddr=:9\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, warns, err := config.Parse("f.conf", data)
		if err != nil {
			var e *config.Error
			if !errors.As(err, &e) || !errors.Is(err, config.ErrConfig) || c != nil || err.Error() == "" {
				t.Fatalf("Parse: %v (%T), config %v", err, err, c)
			}
			return
		}
		checkConfig(t, c)
		for _, w := range warns {
			if w.Line == 0 && w.Key != "brokerIP1" && !bytes.Contains(data, []byte(`\`)) {
				t.Fatalf("warning without a line: %v", w)
			}
		}
	})
}

// checkConfig checks the rules every accepted Config keeps.
func checkConfig(t *testing.T, c *config.Config) {
	t.Helper()
	if _, ok := c.Peers[c.SelfID]; !ok || len(c.PeerOrder) != len(c.Peers) {
		t.Fatalf("self %q, peers %v in order %v", c.SelfID, c.Peers, c.PeerOrder)
	}
	if _, _, err := net.SplitHostPort(c.ClientAddr); err != nil {
		t.Fatalf("ClientAddr %q: %v", c.ClientAddr, err)
	}
	if !filepath.IsAbs(c.RootDir) || !filepath.IsAbs(c.LogDir) {
		t.Fatalf("store paths %q, %q are not absolute", c.RootDir, c.LogDir)
	}
	if c.TickInterval > c.HeartbeatInterval || c.ElectionTimeout < 2*c.HeartbeatInterval ||
		c.RetransmitTimeout < c.HeartbeatInterval || int64(c.MaxMessageSize)+32 > c.SegmentSize {
		t.Fatalf("rules broken: %+v", c)
	}
	if len(c.Describe()) == 0 {
		t.Fatal("empty Describe")
	}
}
