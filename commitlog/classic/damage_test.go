package classic_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/commitlog/classic"
)

// Offsets in a message with IPv4 hosts (commitlog/doc.go).
const (
	offPhysical = 28
	offBody     = 88
)

// lastIn returns the index of the last message written into file.
func lastIn(ws []written, file string) int {
	i := -1
	for j, w := range ws {
		if w.file == file {
			i = j
		}
	}
	return i
}

// firstIn returns the index of the first message written into file.
func firstIn(ws []written, file string) int {
	for j, w := range ws {
		if w.file == file {
			return j
		}
	}
	return -1
}

// TestScanDamage: each damage Scan must find, torn tails (the end of the
// log, no error) apart from damage inside the log (an error naming the
// file, the offset, the reason and what follows).
func TestScanDamage(t *testing.T) {
	// 30 messages of about 320 bytes: 12 in each of files 0 and 1, 6 in
	// file 2 (TestScanDamageLayout).
	const fileSize = 4096
	msgs := oneQueue(messages(30, 150))
	tests := []struct {
		name string
		// damage changes the directory dir, which holds ws; it returns
		// the number of messages Scan must still return, and the
		// damaged message (an index in ws) or -1.
		damage  func(t *testing.T, dir string, ws []written) (valid, at int)
		torn    bool
		wantErr error // what the error or Summary.Torn is
		text    []string
	}{
		{name: "torn: the last message half written", torn: true, wantErr: commitlog.ErrCorrupt,
			damage: func(t *testing.T, dir string, ws []written) (int, int) {
				last := ws[29]
				patch(t, dir, last.file, last.phys%fileSize+100, make([]byte, len(last.bytes)-100))
				return 29, 29
			},
			text: []string{"DIR/00000000000000008192, offset 9792 (position 1600 of the file): commitlog: corrupt message: ",
				"a torn write at the end of the log (nothing valid follows it); RocketMQ's recovery truncates the log here"}},
		{name: "torn: a total size past the end of the file", torn: true, wantErr: commitlog.ErrShort,
			damage: func(t *testing.T, dir string, ws []written) (int, int) {
				last := ws[29]
				patch(t, dir, last.file, last.phys%fileSize, binary.BigEndian.AppendUint32(nil, 5000))
				return 29, 29
			},
			text: []string{"commitlog: short message: total size 5000 runs past the end of the file, 2496 bytes left"}},
		{name: "torn: a bad body CRC on the last message", torn: true, wantErr: commitlog.ErrBodyCRC,
			damage: func(t *testing.T, dir string, ws []written) (int, int) {
				last := ws[29]
				patch(t, dir, last.file, last.phys%fileSize+offBody+3, []byte{'X'})
				return 29, 29
			}},
		{name: "torn, with an empty preallocated file after it", torn: true, wantErr: commitlog.ErrBodyCRC,
			damage: func(t *testing.T, dir string, ws []written) (int, int) {
				last := ws[29]
				patch(t, dir, last.file, last.phys%fileSize+offBody+3, []byte{'X'})
				if err := os.WriteFile(filepath.Join(dir, "00000000000000012288"), make([]byte, fileSize), 0o644); err != nil {
					t.Fatal(err)
				}
				return 29, 29
			}},
		{name: "a bad body CRC in the middle", wantErr: commitlog.ErrBodyCRC,
			damage: func(t *testing.T, dir string, ws []written) (int, int) {
				patch(t, dir, ws[5].file, ws[5].phys+offBody, []byte{'X'})
				return 5, 5
			},
			text: []string{"DIR/00000000000000000000, offset 1590 (position 1590 of the file): commitlog: body CRC mismatch: stored ",
				"; a valid message at offset 1908 follows it, so this is damage inside the log, not a torn write at its end: " +
					"copy 00000000000000000000 from another copy of this CommitLog in which it verifies (rmqlog commitlog check compares copies)"}},
		{name: "a bad body CRC before the blank", wantErr: commitlog.ErrBodyCRC,
			damage: func(t *testing.T, dir string, ws []written) (int, int) {
				i := lastIn(ws, f0)
				patch(t, dir, f0, ws[i].phys+offBody, []byte{'X'})
				return i, i
			},
			text: []string{"; the end-of-file blank at offset 3818 follows it"}},
		{name: "a bad total size and magic code in the middle file", wantErr: commitlog.ErrMagic,
			damage: func(t *testing.T, dir string, ws []written) (int, int) {
				i := firstIn(ws, f1) + 3
				patch(t, dir, f1, ws[i].phys%fileSize, []byte{1, 2, 3, 4, 1, 2, 3, 4})
				return i, i
			},
			text: []string{"DIR/00000000000000004096, offset 5053 (position 957 of the file): commitlog: bad magic code: 01020304; data in file 00000000000000008192 follows it"}},
		{name: "a hole: the data of the middle file ends early", wantErr: classic.ErrHole,
			damage: func(t *testing.T, dir string, ws []written) (int, int) {
				i := firstIn(ws, f1) + 2
				patch(t, dir, f1, ws[i].phys%fileSize, make([]byte, 8))
				return i, -1
			},
			text: []string{"DIR/00000000000000004096, offset 4734 (position 638 of the file): classic: hole in the log: a zero total size ends the data of 00000000000000004096 at position 638; " +
				"data in file 00000000000000008192 follows it"}},
		{name: "files copied under each other's names", wantErr: classic.ErrOffset,
			damage: func(t *testing.T, dir string, ws []written) (int, int) {
				a, b, tmp := filepath.Join(dir, f1), filepath.Join(dir, f2), filepath.Join(dir, "tmp")
				for _, mv := range [][2]string{{a, tmp}, {b, a}, {tmp, b}} {
					if err := os.Rename(mv[0], mv[1]); err != nil {
						t.Fatal(err)
					}
				}
				return firstIn(ws, f1), -1
			},
			text: []string{"DIR/00000000000000004096, offset 4096 (position 0 of the file): classic: physical offset mismatch: the message says it lies at offset 8192, it lies at 4096: " +
				"00000000000000004096 was copied under another name (its messages say it is 00000000000000008192) or is damaged: give the file its right name, or copy it again from its source"}},
		{name: "a wrong physical offset field on the last message", wantErr: classic.ErrOffset,
			damage: func(t *testing.T, dir string, ws []written) (int, int) {
				patch(t, dir, ws[29].file, ws[29].phys%fileSize+offPhysical, binary.BigEndian.AppendUint64(nil, 7))
				return 29, 29
			},
			text: []string{"the message says it lies at offset 7, it lies at 9792: 00000000000000008192 is damaged, or was copied under another name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ws := write(t, dir, fileSize, msgs)
			valid, at := tc.damage(t, dir, ws)
			got, sum, err := scanAll(t, open(t, dir))
			checkMessages(t, got, ws[:valid])
			if sum.Messages != int64(valid) || sum.End != ws[valid-1].phys+int64(len(ws[valid-1].bytes)) {
				t.Errorf("Summary %+v after %d valid messages", sum, valid)
			}
			var d *classic.Damage
			if tc.torn {
				if err != nil || sum.Torn == nil || !sum.Torn.Torn() {
					t.Fatalf("Scan: %v, Torn %v; want a torn tail", err, sum.Torn)
				}
				d = sum.Torn
			} else {
				if sum.Torn != nil || !errors.As(err, &d) || d.Torn() {
					t.Fatalf("Scan: %v (Torn %v), want damage inside the log", err, sum.Torn)
				}
			}
			if !errors.Is(d, tc.wantErr) {
				t.Errorf("damage %v, want %v", d, tc.wantErr)
			}
			if at >= 0 && (d.Offset != ws[at].phys || d.File != ws[at].file || d.Pos != ws[at].phys%fileSize) {
				t.Errorf("damage at %d in %s (position %d), want message %d at %d in %s", d.Offset, d.File, d.Pos, at, ws[at].phys, ws[at].file)
			}
			for _, frag := range tc.text {
				if frag = strings.ReplaceAll(frag, "DIR", dir); !strings.Contains(d.Error(), frag) {
					t.Errorf("damage %q\nlacks %q", d, frag)
				}
			}
		})
	}
}

// TestScanDamageLayout pins the layout TestScanDamage's offsets assume.
func TestScanDamageLayout(t *testing.T) {
	ws := write(t, t.TempDir(), 4096, oneQueue(messages(30, 150)))
	got := fmt.Sprint(len(ws[0].bytes), firstIn(ws, f1), firstIn(ws, f2), ws[29].phys)
	if want := "318 12 24 9792"; got != want {
		t.Fatalf("size, first of file 1, first of file 2, last offset: %s, want %s", got, want)
	}
}
