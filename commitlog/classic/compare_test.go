package classic_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/commitlog/classic"
)

var showReports = flag.Bool("show-reports", false, "log every Compare report TestCompare makes")

// TestCompare: the verdict, the files to copy and the operator's text of
// Compare for each way two copies of a CommitLog can differ. The master
// holds 30 messages: 12 in each of files 0 and 1, 6 in file 2.
func TestCompare(t *testing.T) {
	const fileSize = 4096
	master := messages(30, 150)
	other := messages(30, 150)
	other[17] = message(100, 150) // another message where master holds message 17
	tests := []struct {
		name string
		// build writes the copies into m and s (and x, a third, if set).
		build    func(t *testing.T, m, s, x string)
		three    bool
		skipMD5  bool
		state    classic.State // of the pair master, slave
		at       int64         // Pair.At, the offset where they stop agreeing; -1: not checked
		copies   []string      // "FILE FROM TO" of each action
		text     []string      // fragments of the report; {m}, {s}, {x} the directories
		notText  []string
		ok       bool
		mustFail string // Compare's error
	}{
		{name: "identical copies", state: classic.Same, at: -1, ok: true,
			build: func(t *testing.T, m, s, _ string) { write(t, m, fileSize, master); copyDir(t, m, s) },
			text: []string{"{s} against {m}: same: 30 messages alike, byte for byte\n  md5: 3 of 3 files the same in both\n",
				"result: the copies agree: 30 messages, byte for byte\n"}},
		{name: "the slave is behind", state: classic.Behind, at: 6660,
			build:  func(t *testing.T, m, s, _ string) { write(t, m, fileSize, master); write(t, s, fileSize, master[:20]) },
			copies: []string{f1 + " {m} {s}", f2 + " {m} {s}"},
			text: []string{"{s} against {m}: behind: {s} ends at offset 6,660; {m} holds 10 messages (3,464 bytes) after it\n",
				"  md5 00000000000000004096  {m} ", "  differ\n", "  md5 00000000000000008192  only in {m}\n", "  md5: 1 of 3 files the same in both\n",
				"  copy 00000000000000004096 from {m} to {s} ({s} is 10 messages (3,464 bytes) behind {m})\n",
				"  copy 00000000000000008192 from {m} to {s} ({s} is 10 messages (3,464 bytes) behind {m})\n",
				"result: the copies differ: copy the files listed, with the brokers stopped, then run the check again\n"}},
		{name: "the slave is behind, its last file without the blank", state: classic.Behind, at: 3842,
			build:  func(t *testing.T, m, s, _ string) { write(t, m, fileSize, master); write(t, s, fileSize, master[:12]) },
			copies: []string{f0 + " {m} {s}", f1 + " {m} {s}", f2 + " {m} {s}"}},
		{name: "the slave's last message is torn", state: classic.Behind, at: 9798,
			build: func(t *testing.T, m, s, _ string) {
				ws := write(t, m, fileSize, master)
				copyDir(t, m, s)
				patch(t, s, f2, ws[29].phys%fileSize+offBody, []byte("torn"))
			},
			copies: []string{f2 + " {m} {s}"},
			text: []string{"{s}: 3 files, 29 messages (9,304 bytes), offsets 0 to 9,798\n  torn tail: {s}/00000000000000008192, offset 9798 (position 1606 of the file): commitlog: body CRC mismatch",
				"{s} against {m}: behind: {s} ends at offset 9,798; {m} holds 1 message (326 bytes) after it\n"}},
		{name: "the master is behind", state: classic.Ahead, at: 8512,
			build:  func(t *testing.T, m, s, _ string) { write(t, m, fileSize, master[:25]); write(t, s, fileSize, master) },
			copies: []string{f2 + " {s} {m}"},
			text:   []string{"{s} against {m}: ahead: {m} ends at offset 8,512; {s} holds 5 messages (1,612 bytes) after it, which the reference lacks\n"}},
		{name: "the copies diverge at message 17", state: classic.Diverged, at: 5697,
			build:  func(t *testing.T, m, s, _ string) { write(t, m, fileSize, master); write(t, s, fileSize, other) },
			copies: []string{f1 + " {m} {s}", f2 + " {m} {s}"},
			text: []string{"{s} against {m}: diverged at offset 5,697 in 00000000000000004096: " +
				"{m} holds topic 订单-topic queue 1 offset 1 (325 bytes at offset 5,697, stored at 1700000000117 ms); " +
				"{s} holds topic TopicB queue 0 offset 2 (321 bytes at offset 5,697, stored at 1700000000200 ms). " +
				"Different messages at the same offset: not a copy that is behind. " +
				"Usually the master's copy is the one with the longer valid log; from offset 5,697 on, {m} holds 13 messages (4,427 bytes), {s} holds 13 messages (4,427 bytes)\n",
				"  copy 00000000000000004096 from {m} to {s} (both valid logs end at offset 10124; {m} is the reference; keep {s}'s own copy of the file elsewhere first)\n"}},
		{name: "the copies diverge, the slave's log the longer", state: classic.Diverged, at: 5697,
			build:  func(t *testing.T, m, s, _ string) { write(t, m, fileSize, master[:20]); write(t, s, fileSize, other) },
			copies: []string{f1 + " {s} {m}", f2 + " {s} {m}"},
			text:   []string{"  copy 00000000000000008192 from {s} to {m} ({s} holds the longer valid log; keep {m}'s own copy of the file elsewhere first)\n"}},
		{name: "the slave is damaged in the middle", state: classic.Damaged, at: 1278,
			build: func(t *testing.T, m, s, _ string) {
				ws := write(t, m, fileSize, master)
				copyDir(t, m, s)
				patch(t, s, f0, ws[4].phys+offBody, []byte("X"))
			},
			copies: []string{f0 + " {m} {s}"},
			text: []string{"  DAMAGED: {s}/00000000000000000000, offset 1278 (position 1278 of the file): commitlog: body CRC mismatch",
				"{s} against {m}: damaged: alike up to offset 1,278 (4 messages), where a copy is damaged (above)\n",
				"  copy 00000000000000000000 from {m} to {s} (damaged in {s} at offset 1278, it verifies in {m})\n"}},
		{name: "the master is damaged in the middle", state: classic.Damaged, at: 4734,
			build: func(t *testing.T, m, s, _ string) {
				ws := write(t, m, fileSize, master)
				copyDir(t, m, s)
				patch(t, m, f1, ws[14].phys%fileSize+offBody, []byte("X"))
			},
			copies: []string{f1 + " {s} {m}"}},
		{name: "both damaged in the same file", state: classic.Damaged, at: 4734,
			build: func(t *testing.T, m, s, _ string) {
				ws := write(t, m, fileSize, master)
				copyDir(t, m, s)
				patch(t, m, f1, ws[14].phys%fileSize+offBody, []byte("X"))
				patch(t, s, f1, ws[20].phys%fileSize+offBody, []byte("X"))
			},
			text: []string{"  no copy here verifies the damaged file: keep every copy as it is; RocketMQ's recovery would truncate the damaged log there\n",
				"result: the copies differ (see above)\n"}},
		{name: "retention deleted the master's first file", state: classic.Same, at: -1, ok: true,
			build: func(t *testing.T, m, s, _ string) {
				write(t, m, fileSize, master)
				copyDir(t, m, s)
				if err := os.Remove(filepath.Join(m, f0)); err != nil {
					t.Fatal(err)
				}
			},
			text: []string{"{s} against {m}: same: 18 messages alike, byte for byte, compared from offset 4,096 where both begin\n",
				"  md5 00000000000000000000  only in {s}\n"}},
		{name: "the slave ends before the master's first file", state: classic.Disjoint, at: -1,
			build: func(t *testing.T, m, s, _ string) {
				write(t, m, fileSize, master)
				write(t, s, fileSize, master[:5])
				if err := os.Remove(filepath.Join(m, f0)); err != nil {
					t.Fatal(err)
				}
			},
			copies: []string{f1 + " {m} {s}", f2 + " {m} {s}"},
			text: []string{"{s} against {m}: disjoint: one copy ends at offset 1,596, before the other's first file: no offset in common\n",
				"({s} ends before {m} begins: copy into a new, empty directory, keeping {s}'s own files elsewhere)"}},
		{name: "without md5: the files to copy all the same", state: classic.Behind, at: 6660, skipMD5: true,
			build:   func(t *testing.T, m, s, _ string) { write(t, m, fileSize, master); write(t, s, fileSize, master[:20]) },
			copies:  []string{f1 + " {m} {s}", f2 + " {m} {s}"},
			notText: []string{"  md5 "}},
		{name: "three copies: one alike, one behind", state: classic.Same, at: -1, three: true,
			build: func(t *testing.T, m, s, x string) {
				write(t, m, fileSize, master)
				copyDir(t, m, s)
				write(t, x, fileSize, master[:27])
			},
			text: []string{"{s} against {m}: same", "{x} against {m}: behind: {x} ends at offset 9,158; {m} holds 3 messages",
				"  copy 00000000000000008192 from {m} to {x} ({x} is 3 messages (966 bytes) behind {m})\n"}},
		{name: "different file sizes", mustFail: "classic: {s} has files of 8192 bytes, {m} of 4096: copies of one CommitLog have the same file size",
			build: func(t *testing.T, m, s, _ string) { write(t, m, fileSize, master); write(t, s, 2*fileSize, master) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			m, s, x := filepath.Join(root, "m"), filepath.Join(root, "s"), filepath.Join(root, "x")
			tc.build(t, m, s, x)
			dirs := []*classic.Dir{open(t, m), open(t, s)}
			if tc.three {
				dirs = append(dirs, open(t, x))
			}
			rep, err := classic.Compare(dirs, classic.CompareOptions{SkipMD5: tc.skipMD5})
			fill := strings.NewReplacer("{m}", m, "{s}", s, "{x}", x)
			if tc.mustFail != "" {
				if err == nil || !strings.Contains(err.Error(), fill.Replace(tc.mustFail)) {
					t.Fatalf("Compare: %v, want %q", err, tc.mustFail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			text := rep.String()
			if *showReports {
				t.Logf("\n%s", text)
			}
			p := rep.Pairs[0]
			if p.State != tc.state || rep.OK() != tc.ok {
				t.Errorf("state %v, OK %v; want %v, %v\n%s", p.State, rep.OK(), tc.state, tc.ok, text)
			}
			if tc.at >= 0 && p.At != tc.at {
				t.Errorf("At %d, want %d", p.At, tc.at)
			}
			var copies []string
			for _, a := range p.Copy {
				copies = append(copies, strings.Join([]string{a.File, a.From, a.To}, " "))
			}
			if got, want := strings.Join(copies, "; "), fill.Replace(strings.Join(tc.copies, "; ")); got != want {
				t.Errorf("copy %q, want %q", got, want)
			}
			for _, frag := range tc.text {
				if !strings.Contains(text, fill.Replace(frag)) {
					t.Errorf("report lacks %q:\n%s", fill.Replace(frag), text)
				}
			}
			for _, frag := range tc.notText {
				if strings.Contains(text, frag) {
					t.Errorf("report holds %q:\n%s", frag, text)
				}
			}
			if _, err := json.Marshal(rep); err != nil {
				t.Errorf("the report does not marshal to JSON: %v", err)
			}
		})
	}
}

// TestCompareVerifiesEveryCopy: a copy is walked to its end even after
// the comparison stopped, so damage after the point of difference is
// found and reported.
func TestCompareVerifiesEveryCopy(t *testing.T) {
	root := t.TempDir()
	m, s := filepath.Join(root, "m"), filepath.Join(root, "s")
	ws := write(t, m, 4096, messages(30, 150))
	write(t, s, 4096, messages(10, 150))
	patch(t, m, f1, ws[20].phys%4096+offBody, []byte("X"))
	rep, err := classic.Compare([]*classic.Dir{open(t, m), open(t, s)}, classic.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Copies[0]
	if c.Damage == nil || c.Damage.Offset != ws[20].phys || rep.Pairs[0].State != classic.Behind {
		t.Fatalf("master: damage %v, pair %v", c.Damage, rep.Pairs[0].State)
	}
	// Only file 0 can be copied: file 1 is damaged in the master.
	if a := rep.Pairs[0].Copy; len(a) != 1 || a[0].File != f0 {
		t.Fatalf("copy %+v, want only %s", a, f0)
	}
}

// TestCompareNeedsTwo: one copy is nothing to compare.
func TestCompareNeedsTwo(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, 4096, []commitlog.Message{message(0, 1)})
	if _, err := classic.Compare([]*classic.Dir{open(t, dir)}, classic.CompareOptions{}); err == nil {
		t.Fatal("Compare of one copy succeeded")
	}
}
