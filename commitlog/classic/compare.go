package classic

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// CompareOptions adjusts Compare.
type CompareOptions struct {
	// SkipMD5 skips the md5 of every file: a second read of every byte
	// of every copy, for the method RocketMQ's documentation gives.
	SkipMD5 bool
}

// State is how a copy compares with the reference copy.
type State int

const (
	// Same: the same messages, byte for byte, from the first offset both
	// hold to the end.
	Same State = iota
	// Behind: the other copy holds a prefix of the reference's messages
	// (a slave that had not received the last ones).
	Behind
	// Ahead: the reference holds a prefix of the other copy's messages.
	Ahead
	// Diverged: different messages at the same offset.
	Diverged
	// Damaged: a copy has damage inside its log (Copy.Damage); the
	// copies were compared up to it.
	Damaged
	// Disjoint: the shorter copy ends before the first file of the
	// longer: no offset to compare, and no file of the longer continues
	// the shorter.
	Disjoint
)

var stateNames = [...]string{"same", "behind", "ahead", "diverged", "damaged", "disjoint"}

func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return stateNames[s]
}

// MarshalText makes a State a JSON string.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Report is what Compare found. String writes it for an operator; it
// marshals to JSON as it is.
type Report struct {
	FileSize int64 `json:"file_size"`
	// Copies are the directories in the order given; the first is the
	// reference (usually the master's).
	Copies []Copy `json:"copies"`
	// Pairs compare the reference with each other copy, in order.
	Pairs []Pair `json:"pairs"`
}

// OK reports whether every copy holds the same messages as the
// reference, byte for byte, every message verified: nothing to copy.
func (r Report) OK() bool {
	for _, p := range r.Pairs {
		if p.State != Same {
			return false
		}
	}
	return len(r.Pairs) > 0
}

// Copy is one directory as Compare walked it.
type Copy struct {
	Path    string   `json:"path"`
	Files   []File   `json:"files"`
	Ignored []string `json:"ignored,omitempty"`
	// Summary is what its walk found, its torn tail included.
	Summary Summary `json:"summary"`
	// Damage is the damage inside the log that stopped its walk; nil if
	// every message verified.
	Damage *Damage `json:"damage,omitempty"`
	// MD5 is the md5 of each file (hex) by name, unless SkipMD5.
	MD5 map[string]string `json:"md5,omitempty"`
}

// Pair compares the reference with one other copy.
type Pair struct {
	Reference string `json:"reference"`
	Other     string `json:"other"`
	State     State  `json:"state"`
	// Start is the first offset both copies hold (the later of their
	// first files' starts): messages before it are verified, not
	// compared. Common counts the messages from Start on that are the
	// same, byte for byte, in both.
	Start  int64 `json:"start"`
	Common int64 `json:"common"`
	// At is where the copies stop agreeing: the end of the shorter
	// (Behind, Ahead, Disjoint), the first difference (Diverged), the
	// damage (Damaged); the end of both if Same.
	At int64 `json:"at"`
	// RefMore and OtherMore count the valid messages each copy holds
	// from At on.
	RefMore   int64 `json:"ref_more"`
	OtherMore int64 `json:"other_more"`
	// Diff is what each copy holds at At (Diverged).
	Diff *Difference `json:"diff,omitempty"`
	// Files lists the md5 of every file of either copy (unless SkipMD5).
	Files []FileSums `json:"files,omitempty"`
	// Copy says which files to copy from where to where to make the two
	// copies agree; empty if Same, or if no copy can help.
	Copy []Action `json:"copy,omitempty"`
}

// Difference is the first place two copies hold different messages.
type Difference struct {
	File string `json:"file"`
	// Reference and Other are each copy's first message from At on (one
	// of them lies at At); nil for a copy that holds none.
	Reference *MsgInfo `json:"reference"`
	Other     *MsgInfo `json:"other"`
}

// MsgInfo names a message for an operator.
type MsgInfo struct {
	Offset         int64  `json:"offset"`
	Size           int    `json:"size"`
	Topic          string `json:"topic"`
	QueueID        int32  `json:"queue_id"`
	QueueOffset    int64  `json:"queue_offset"`
	StoreTimestamp int64  `json:"store_timestamp"`
}

func info(m Msg) *MsgInfo {
	h := m.Header
	return &MsgInfo{Offset: m.Phys, Size: h.Size, Topic: string(h.Topic), QueueID: h.QueueID,
		QueueOffset: h.QueueOffset, StoreTimestamp: h.StoreTimestamp}
}

// FileSums is one file's md5 in the two copies of a pair, "" where the
// copy has no such file.
type FileSums struct {
	Name      string `json:"name"`
	Reference string `json:"reference"`
	Other     string `json:"other"`
}

// Action is a file to copy, whole, from one directory to another.
type Action struct {
	File string `json:"file"`
	From string `json:"from"`
	To   string `json:"to"`
	Why  string `json:"why"`
}

// Compare compares copies of one CommitLog (rmqlog commitlog check --dir
// MASTER --dir SLAVE...): dirs[0] is the reference, usually the master's,
// and is compared with each other copy in turn. Each comparison walks both
// copies' messages side by side (as Scan, verifying every message of
// both) and finds where they stop agreeing: one copy a prefix of the
// other, or the first differing message. Unless opts.SkipMD5 it also
// takes the md5 of every file, the method RocketMQ's documentation gives.
// The copies must have the same file size. Compare returns an error only
// for that, fewer than two copies, and I/O errors; what it finds in the
// data is in the Report.
func Compare(dirs []*Dir, opts CompareOptions) (Report, error) {
	if len(dirs) < 2 {
		return Report{}, fmt.Errorf("classic: Compare needs two copies or more, got %d", len(dirs))
	}
	ref := dirs[0]
	rep := Report{FileSize: ref.FileSize, Copies: make([]Copy, len(dirs))}
	buf := make([]byte, 1<<20)
	for i, d := range dirs {
		if d.FileSize != ref.FileSize {
			return Report{}, fmt.Errorf("classic: %s has files of %d bytes, %s of %d: copies of one CommitLog have the same "+
				"file size (mappedFileSizeCommitLog), compare copies of the same log", d.Path, d.FileSize, ref.Path, ref.FileSize)
		}
		rep.Copies[i] = Copy{Path: d.Path, Files: d.Files, Ignored: d.Ignored}
		if !opts.SkipMD5 {
			sums, err := md5Files(d, buf)
			if err != nil {
				return Report{}, err
			}
			rep.Copies[i].MD5 = sums
		}
	}
	for i := 1; i < len(dirs); i++ {
		p, err := comparePair(ref, dirs[i], &rep.Copies[0], &rep.Copies[i])
		if err != nil {
			return Report{}, err
		}
		rep.Pairs = append(rep.Pairs, p)
	}
	return rep, nil
}

// comparePair walks r and o side by side, filling in their copies'
// summaries (rc, oc), and returns the pair.
func comparePair(r, o *Dir, rc, oc *Copy) (Pair, error) {
	cr, co := newCursor(r), newCursor(o)
	defer cr.close()
	defer co.close()
	p := Pair{Reference: r.Path, Other: o.Path, Start: max(r.Files[0].Start, o.Files[0].Start)}
	a, ea := cr.skipTo(p.Start)
	b, eb := co.skipTo(p.Start)
	for ea == nil && eb == nil && a.Phys == b.Phys && bytes.Equal(a.Bytes, b.Bytes) {
		p.Common++
		a, ea = cr.next()
		b, eb = co.next()
	}
	if err := p.verdict(cr, co, a, ea, b, eb); err != nil {
		return Pair{}, err
	}
	n, err := cr.drain()
	if err != nil {
		return Pair{}, err
	}
	p.RefMore += n
	if n, err = co.drain(); err != nil {
		return Pair{}, err
	}
	p.OtherMore += n
	rc.Summary, rc.Damage = cr.sum, cr.stopped()
	oc.Summary, oc.Damage = co.sum, co.stopped()
	if p.State == Behind && oc.Summary.End < r.Files[0].Start || p.State == Ahead && rc.Summary.End < o.Files[0].Start {
		p.State = Disjoint
	}
	p.Files = fileSums(rc.MD5, oc.MD5)
	p.Copy = actions(&p, r, o, rc, oc)
	return p, nil
}

// verdict sets the pair's state from where the side-by-side walk
// stopped: cr, walking the reference, at its message a or error ea; co,
// walking the other, at b or eb. It counts a and b, not yet walked past,
// in RefMore and OtherMore. It returns an I/O error.
func (p *Pair) verdict(cr, co *cursor, a Msg, ea error, b Msg, eb error) error {
	for _, err := range []error{ea, eb} {
		if err != nil && err != io.EOF && !errors.As(err, new(*Damage)) {
			return err
		}
	}
	var da, db *Damage
	errors.As(ea, &da)
	errors.As(eb, &db)
	if ea == nil {
		p.RefMore = 1
	}
	if eb == nil {
		p.OtherMore = 1
	}
	switch {
	case da != nil || db != nil:
		p.State, p.At = Damaged, min(damageAt(da), damageAt(db))
	case ea == io.EOF && eb == io.EOF:
		p.State, p.At = Same, cr.sum.End
	case eb == io.EOF:
		p.State, p.At = Behind, co.sum.End
	case ea == io.EOF:
		p.State, p.At = Ahead, cr.sum.End
	default:
		p.State, p.At = Diverged, min(a.Phys, b.Phys)
		p.Diff = &Difference{File: FileName(p.At - p.At%cr.d.FileSize), Reference: info(a), Other: info(b)}
	}
	return nil
}

func damageAt(d *Damage) int64 {
	if d == nil {
		return 1<<63 - 1
	}
	return d.Offset
}

// skipTo returns c's first message at or after offset start: those
// before it are walked (verified, counted), not returned.
func (c *cursor) skipTo(start int64) (Msg, error) {
	for {
		m, err := c.next()
		if err != nil || m.Phys >= start {
			return m, err
		}
	}
}

// drain walks the rest of c's messages and returns how many there were.
// It returns an I/O error; the end of the log and damage end it quietly
// (see c.stopped).
func (c *cursor) drain() (int64, error) {
	var n int64
	for {
		_, err := c.next()
		switch {
		case err == nil:
			n++
		case err == io.EOF || errors.As(err, new(*Damage)):
			return n, nil
		default:
			return n, err
		}
	}
}

// stopped returns the damage inside the log that stopped c, if any.
func (c *cursor) stopped() *Damage {
	var d *Damage
	errors.As(c.err, &d)
	return d
}

// md5Files returns the md5 of every file of d by name, reading through
// buf.
func md5Files(d *Dir, buf []byte) (map[string]string, error) {
	sums := make(map[string]string, len(d.Files))
	for _, f := range d.Files {
		file, err := os.Open(filepath.Join(d.Path, f.Name))
		if err != nil {
			return nil, fmt.Errorf("classic: %w", err)
		}
		h := md5.New()
		_, err = io.CopyBuffer(h, struct{ io.Reader }{file}, buf) // the struct hides File.WriteTo: buf is used
		file.Close()
		if err != nil {
			return nil, fmt.Errorf("classic: md5 of %s: %w", file.Name(), err)
		}
		sums[f.Name] = hex.EncodeToString(h.Sum(nil))
	}
	return sums, nil
}

// fileSums lines up two copies' md5s by file name.
func fileSums(r, o map[string]string) []FileSums {
	if r == nil || o == nil {
		return nil
	}
	var names []string
	for _, m := range []map[string]string{r, o} {
		for name := range m {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var out []FileSums
	for _, name := range slices.Compact(names) {
		out = append(out, FileSums{Name: name, Reference: r[name], Other: o[name]})
	}
	return out
}

// actions lists the files to copy to make the pair's copies agree.
func actions(p *Pair, r, o *Dir, rc, oc *Copy) []Action {
	switch p.State {
	case Behind:
		why := fmt.Sprintf("%s is %s behind %s", o.Path, count(p.RefMore, rc.Summary.End-p.At), r.Path)
		return copyFiles(r, rc, o, oc, p.At, why)
	case Ahead:
		why := fmt.Sprintf("%s holds %s that %s lacks", o.Path, count(p.OtherMore, oc.Summary.End-p.At), r.Path)
		return copyFiles(o, oc, r, rc, p.At, why)
	case Diverged:
		src, sc, dst, dc := r, rc, o, oc
		if oc.Summary.End > rc.Summary.End {
			src, sc, dst, dc = o, oc, r, rc
		}
		longer := fmt.Sprintf("%s holds the longer valid log", src.Path)
		if oc.Summary.End == rc.Summary.End {
			longer = fmt.Sprintf("both valid logs end at offset %d; %s is the reference", rc.Summary.End, src.Path)
		}
		why := fmt.Sprintf("%s; keep %s's own copy of the file elsewhere first", longer, dst.Path)
		return copyFiles(src, sc, dst, dc, p.At, why)
	case Disjoint:
		src, sc, dst, dc := r, rc, o, oc
		if p.OtherMore > 0 {
			src, sc, dst, dc = o, oc, r, rc
		}
		why := fmt.Sprintf("%s ends before %s begins: copy into a new, empty directory, keeping %s's own files elsewhere", dst.Path, src.Path, dst.Path)
		return copyFiles(src, sc, dst, dc, src.Files[0].Start, why)
	case Damaged:
		return repairs(r, rc, o, oc)
	}
	return nil
}

// copyFiles lists the files of src from the one holding offset from to
// the last holding a valid message, but those with the same md5 in dst
// and those from src's own damage on.
func copyFiles(src *Dir, sc *Copy, dst *Dir, dc *Copy, from int64, why string) []Action {
	last := src.fileOf(sc.Summary.End - 1)
	if sc.Summary.Messages == 0 {
		return nil
	}
	if sc.Damage != nil {
		last = min(last, src.fileOf(sc.Damage.Offset)-1)
	}
	var acts []Action
	for i := max(src.fileOf(from), 0); i <= last && i < len(src.Files); i++ {
		f := src.Files[i]
		if sum, ok := dc.MD5[f.Name]; ok && sum == sc.MD5[f.Name] {
			continue
		}
		acts = append(acts, Action{File: f.Name, From: src.Path, To: dst.Path, Why: why})
	}
	return acts
}

// repairs lists, for each copy of the pair damaged inside its log, the
// damaged file from the other copy if it verifies there.
func repairs(r *Dir, rc *Copy, o *Dir, oc *Copy) []Action {
	var acts []Action
	for _, s := range []struct {
		bad, good   *Dir
		badC, goodC *Copy
	}{{r, o, rc, oc}, {o, r, oc, rc}} {
		d := s.badC.Damage
		if d == nil || !verifies(s.good, s.goodC, d.Offset) {
			continue
		}
		acts = append(acts, Action{File: d.File, From: s.good.Path, To: s.bad.Path,
			Why: fmt.Sprintf("damaged in %s at offset %d, it verifies in %s", s.bad.Path, d.Offset, s.good.Path)})
	}
	return acts
}

// verifies reports whether the walk of copy d verified the whole of the
// file holding offset: d holds the file, its data reaches into it, and
// its damage, if any, lies after it.
func verifies(d *Dir, c *Copy, offset int64) bool {
	i := d.fileOf(offset)
	if i < 0 || i >= len(d.Files) {
		return false
	}
	start := d.Files[i].Start
	return c.Summary.End > start && (c.Damage == nil || c.Damage.Offset >= start+d.FileSize)
}
