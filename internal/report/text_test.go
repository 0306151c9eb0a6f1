package report

import (
	"bytes"
	"testing"
)

func TestWriteAligned(t *testing.T) {
	tab := &Table{Header: []string{"run", "msgs/s", "p99"}, Rows: [][]string{{"a long name", "5", "1.25"}, {"b", "12345", "10"}}}
	for _, tc := range []struct {
		name, indent string
		right        func(int) bool
		want         string
	}{
		{"numbers right", "  ", func(c int) bool { return c >= 1 },
			"  run          msgs/s   p99\n  a long name       5  1.25\n  b             12345    10\n"},
		{"all left", "", func(int) bool { return false },
			"run          msgs/s  p99\na long name  5       1.25\nb            12345   10\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			WriteAligned(&b, tab, tc.indent, tc.right)
			if b.String() != tc.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), tc.want)
			}
		})
	}
}
