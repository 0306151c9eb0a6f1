package classic

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// String returns the report as Write writes it.
func (r Report) String() string {
	var b strings.Builder
	r.Write(&b)
	return b.String()
}

// Write writes the report for an operator: each copy, then each pair's
// verdict, its md5s and the files to copy, then a last line saying
// whether the copies agree.
func (r Report) Write(w io.Writer) error {
	pw := &printer{w: w}
	pw.printf("CommitLog check: %d copies, files of %s bytes; the first, %s, is the reference (usually the master's)\n",
		len(r.Copies), num(r.FileSize), r.Copies[0].Path)
	for _, c := range r.Copies {
		writeCopy(pw, &c)
	}
	for _, p := range r.Pairs {
		writePair(pw, r, &p)
	}
	switch {
	case r.OK():
		pw.printf("result: the copies agree: %s messages, byte for byte\n", num(r.Copies[0].Summary.Messages))
	case hasActions(r):
		pw.printf("result: the copies differ: copy the files listed, with the brokers stopped, then run the check again\n")
	default:
		pw.printf("result: the copies differ (see above)\n")
	}
	return pw.err
}

func writeCopy(pw *printer, c *Copy) {
	s := c.Summary
	files := "files"
	if len(c.Files) == 1 {
		files = "file"
	}
	pw.printf("%s: %d %s, %s messages (%s bytes), offsets %s to %s\n",
		c.Path, len(c.Files), files, num(s.Messages), num(s.Bytes), num(s.First), num(s.End))
	if len(c.Ignored) > 0 {
		pw.printf("  ignored: %s\n", strings.Join(c.Ignored, ", "))
	}
	if s.Torn != nil {
		pw.printf("  torn tail: %v\n", s.Torn)
	}
	if c.Damage != nil {
		pw.printf("  DAMAGED: %v\n", c.Damage)
	}
}

func writePair(pw *printer, r Report, p *Pair) {
	rc, oc := r.byPath(p.Reference), r.byPath(p.Other)
	head := fmt.Sprintf("%s against %s: %s", p.Other, p.Reference, p.State)
	from := ""
	if p.Start > min(rc.Files[0].Start, oc.Files[0].Start) {
		from = fmt.Sprintf(", compared from offset %s where both begin", num(p.Start))
	}
	switch p.State {
	case Same:
		pw.printf("%s: %s messages alike, byte for byte%s\n", head, num(p.Common), from)
	case Behind:
		pw.printf("%s: %s ends at offset %s; %s holds %s after it%s\n",
			head, p.Other, num(p.At), p.Reference, count(p.RefMore, rc.Summary.End-p.At), from)
	case Ahead:
		pw.printf("%s: %s ends at offset %s; %s holds %s after it, which the reference lacks%s\n",
			head, p.Reference, num(p.At), p.Other, count(p.OtherMore, oc.Summary.End-p.At), from)
	case Diverged:
		writeDiverged(pw, head, p, rc, oc)
	case Damaged:
		pw.printf("%s: alike up to offset %s (%s messages), where a copy is damaged (above)\n", head, num(p.At), num(p.Common))
	case Disjoint:
		pw.printf("%s: one copy ends at offset %s, before the other's first file: no offset in common\n", head, num(p.At))
	}
	writeSums(pw, p)
	for _, a := range p.Copy {
		pw.printf("  copy %s from %s to %s (%s)\n", a.File, a.From, a.To, a.Why)
	}
	if p.State == Damaged && len(p.Copy) == 0 {
		pw.printf("  no copy here verifies the damaged file: keep every copy as it is; RocketMQ's recovery would truncate the damaged log there\n")
	}
}

func writeDiverged(pw *printer, head string, p *Pair, rc, oc *Copy) {
	pw.printf("%s at offset %s in %s: %s holds %s; %s holds %s. Different messages at the same offset: "+
		"not a copy that is behind. Usually the master's copy is the one with the longer valid log; "+
		"from offset %s on, %s holds %s, %s holds %s\n",
		head, num(p.At), p.Diff.File, p.Reference, p.Diff.Reference, p.Other, p.Diff.Other, num(p.At),
		p.Reference, count(p.RefMore, rc.Summary.End-p.At), p.Other, count(p.OtherMore, oc.Summary.End-p.At))
}

// writeSums writes how many files have the same md5 in both copies, and a
// line for each other file.
func writeSums(pw *printer, p *Pair) {
	same := 0
	for _, f := range p.Files {
		switch {
		case f.Reference == f.Other:
			same++
		case f.Other == "":
			pw.printf("  md5 %s  only in %s\n", f.Name, p.Reference)
		case f.Reference == "":
			pw.printf("  md5 %s  only in %s\n", f.Name, p.Other)
		default:
			pw.printf("  md5 %s  %s %s  %s %s  differ\n", f.Name, p.Reference, f.Reference, p.Other, f.Other)
		}
	}
	if len(p.Files) > 0 {
		pw.printf("  md5: %d of %d files the same in both\n", same, len(p.Files))
	}
}

func (m *MsgInfo) String() string {
	if m == nil {
		return "no message there"
	}
	return fmt.Sprintf("topic %s queue %d offset %d (%d bytes at offset %s, stored at %d ms)",
		m.Topic, m.QueueID, m.QueueOffset, m.Size, num(m.Offset), m.StoreTimestamp)
}

func (r Report) byPath(path string) *Copy {
	for i := range r.Copies {
		if r.Copies[i].Path == path {
			return &r.Copies[i]
		}
	}
	panic("classic: report names a copy it does not hold: " + path)
}

func hasActions(r Report) bool {
	for _, p := range r.Pairs {
		if len(p.Copy) > 0 {
			return true
		}
	}
	return false
}

// count says n messages of b bytes.
func count(n, b int64) string {
	if n == 1 {
		return fmt.Sprintf("1 message (%s bytes)", num(b))
	}
	return fmt.Sprintf("%s messages (%s bytes)", num(n), num(b))
}

// num writes n with thousands separators: 1,234,567.
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// printer writes until the first error, and keeps it.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
