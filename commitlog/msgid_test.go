package commitlog_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/rmqlog/rmqlog/commitlog"
)

// The ids and what they name come from the Go client's tests
// (primitive/message_test.go: TestMessageID, TestIpv6MessageID).
func TestMessageID(t *testing.T) {
	for _, tc := range []struct {
		id     string
		host   netip.AddrPort
		offset int64
	}{
		{"0AAF0895000078BF000000000009BB4A", netip.MustParseAddrPort("10.175.8.149:30911"), 637770},
		{"FDBDDC4100010136C800000000000024000078BF0000000000004F45",
			netip.MustParseAddrPort("[fdbd:dc41:1:136:c800::24]:30911"), 20293},
	} {
		if got := commitlog.MessageID(tc.host, tc.offset); got != tc.id {
			t.Errorf("MessageID(%v, %d) = %s, want %s", tc.host, tc.offset, got, tc.id)
		}
		host, off, err := commitlog.ParseMessageID(tc.id)
		if err != nil || host != tc.host || off != tc.offset {
			t.Errorf("ParseMessageID(%s) = %v, %d, %v", tc.id, host, off, err)
		}
	}
	for _, bad := range []string{"", "0AAF0895000078BF000000000009BB4", "0AAF0895000078BF000000000009BB4G",
		"0AAF089500010000000000000009BB4A"} { // port 65536
		if _, _, err := commitlog.ParseMessageID(bad); !errors.Is(err, commitlog.ErrMessageID) {
			t.Errorf("ParseMessageID(%q) error %v, want ErrMessageID", bad, err)
		}
	}
	if a := testing.AllocsPerRun(100, func() {
		var buf [56]byte
		commitlog.AppendMessageID(buf[:0], netip.MustParseAddrPort("[::1]:1"), 1)
	}); a != 0 {
		t.Fatalf("AppendMessageID allocates %.0f times", a)
	}
}
