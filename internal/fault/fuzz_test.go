package fault

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseControl: the control file parser never panics, and every
// command it accepts prints as a command it accepts again, the same.
func FuzzParseControl(f *testing.F) {
	f.Add([]byte("1 disk full\n2 disk ok\n# comment\n\n3 clock jump 10s\n4 clock freeze 2s\n5 clock rate 0.2 2s\n"))
	f.Add([]byte("7 clock rate 1e9 1s\n"))
	f.Add([]byte("2 disk ok\n1 disk full\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cmds, err := parseControl(b)
		if err != nil {
			return
		}
		for _, c := range cmds {
			again, err := parseCommand(c.String())
			if err != nil || again.String() != c.String() {
				t.Fatalf("%q parsed as %q, which parses as %q, %v", b, c.String(), again.String(), err)
			}
		}
	})
}

// FuzzReplay: the journal replay never panics on a damaged or hostile
// journal; it accepts or refuses it with an error.
func FuzzReplay(f *testing.F) {
	f.Add([]byte("rmqlog-fault-journal v1 pid=1\np 1 \"/d/f\"\nc 1 1\nw 1 0 100\ns 1 3\nw 1 100 50\n"))
	f.Add([]byte("rmqlog-fault-journal v1 pid=1\np 1 \"/d/a\"\np 2 \"/d/b\"\nc 1 1\nr 1 2\nB 1\nD 1 5\nd 2\n"))
	f.Add([]byte("rmqlog-fault-journal v2 pid=1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := replay(bytes.NewReader(b))
		if err == nil && m == nil {
			t.Fatal("no model and no error")
		}
		if err != nil && strings.TrimSpace(err.Error()) == "" {
			t.Fatal("an empty error")
		}
	})
}
