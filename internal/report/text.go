package report

import (
	"fmt"
	"io"
	"strings"
)

// WriteAligned prints t's header and rows as text columns, each as wide as
// its widest cell and two spaces apart, every line starting with indent;
// the columns right reports are right-aligned (numbers), the others left.
func WriteAligned(w io.Writer, t *Table, indent string, right func(col int) bool) {
	rows := append([][]string{t.Header}, t.Rows...)
	width := make([]int, len(t.Header))
	for _, r := range rows {
		for i, cell := range r {
			if i < len(width) {
				width[i] = max(width[i], len(cell))
			}
		}
	}
	for _, r := range rows {
		var b strings.Builder
		b.WriteString(indent)
		for i, cell := range r {
			if i >= len(width) {
				break
			}
			if i > 0 {
				b.WriteString("  ")
			}
			if right(i) {
				fmt.Fprintf(&b, "%*s", width[i], cell)
			} else {
				fmt.Fprintf(&b, "%-*s", width[i], cell)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}
