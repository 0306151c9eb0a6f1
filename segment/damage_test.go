package segment

import (
	"errors"
	"strings"
	"testing"
)

// TestDamage: damage where the log is known to have held entries (below
// the synced position, or followed by a valid entry) is reported, and with
// OnDamage accepted the log is cut before it, durably; elsewhere it is a
// torn tail, as before.
func TestDamage(t *testing.T) {
	flip := func(entry uint64) func(t *testing.T, fs *MemFS, offs []uint64) {
		return func(t *testing.T, fs *MemFS, offs []uint64) {
			path, at := dataFile(offs[entry] + HeaderSize + 3)
			b, _ := fs.ReadFile(path)
			if err := fs.WriteFile(path, at, []byte{b[at] ^ 0x10}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		n      int // entries written by buildLog(n, 10, synced)
		synced int
		damage func(t *testing.T, fs *MemFS, offs []uint64)
		crash  bool // a power cut before the reopen: the unsynced hint is lost
		opts   func(o *Options)
		want   uint64 // the entry reported damaged; 0 = none
		had    uint64
		last   uint64 // the log's last index after the open
	}{
		{"flip between checkpoint and synced", 40, 30, flip(35), false, nil, 35, 40, 34},
		{"flip after a power cut that lost the hint", 40, 30, flip(35), true, nil, 0, 0, 34},
		{"flip below the scan start, verify all", 40, 30, flip(5), false, func(o *Options) { o.VerifyAll = true }, 5, 40, 4},
		{"flip in the unsynced tail", 40, 40, nil, false, nil, 0, 0, 40},
		{"rolled back file", 40, 30, func(t *testing.T, fs *MemFS, offs []uint64) {
			// the file holding entry 33 loses everything from entry 33 on, as
			// if an older copy of it were restored
			path, at := dataFile(offs[33])
			b, _ := fs.ReadFile(path)
			if err := fs.WriteFile(path, at, make([]byte, len(b)-int(at))); err != nil {
				t.Fatal(err)
			}
		}, false, nil, 33, 40, 32},
		{"truncated file", 40, 30, func(t *testing.T, fs *MemFS, offs []uint64) {
			path, at := dataFile(offs[33] + 7)
			b, _ := fs.ReadFile(path)
			if err := fs.Remove(path); err != nil {
				t.Fatal(err)
			}
			f, err := fs.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(b[:at], 0); err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
		}, false, nil, 33, 40, 32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := NewMemFS()
			_, offs := buildLog(t, fs, tc.n, 10, tc.synced)
			if tc.damage != nil {
				tc.damage(t, fs, offs)
			}
			if tc.crash {
				fs = fs.Crash()
			}
			opts := testOpts(fs)
			if tc.opts != nil {
				tc.opts(&opts)
			}
			// Without OnDamage, damage stops Open and names the entry.
			l, err := Open(testDir, opts)
			if tc.want != 0 {
				if !isCorrupt(err) || !strings.Contains(err.Error(), "damaged") && !strings.Contains(err.Error(), "file is") {
					t.Fatalf("open without OnDamage: %v; want ErrCorrupt saying what is damaged", err)
				}
			} else if err != nil {
				t.Fatalf("open: %v", err)
			} else {
				_ = l.Close()
			}
			var got []Damage
			opts.OnDamage = func(d Damage) error { got = append(got, d); return nil }
			l, err = Open(testDir, opts)
			if err != nil {
				t.Fatalf("open with OnDamage: %v", err)
			}
			if tc.want == 0 && len(got) != 0 || tc.want != 0 && (len(got) != 1 || got[0].Index != tc.want || got[0].Had != tc.had) {
				t.Fatalf("damage reported %+v; want entry %d, had %d", got, tc.want, tc.had)
			}
			if l.LastIndex() != tc.last || l.DurableIndex() > tc.last {
				t.Fatalf("last %d durable %d; want last %d", l.LastIndex(), l.DurableIndex(), tc.last)
			}
			// The log continues after the cut, and a power cut after it
			// finds neither damage nor the old entries.
			if _, err := l.Append(9, TypeNormal, []byte("after the repair")); err != nil {
				t.Fatal(err)
			}
			mustSync(t, l)
			_ = l.Close()
			opts = testOpts(fs.Crash())
			opts.VerifyAll = true
			l, err = Open(testDir, opts)
			if err != nil {
				t.Fatalf("open after the cut: %v", err)
			}
			defer l.Close()
			if e, err := l.Read(tc.last + 1); err != nil || string(e.Payload) != "after the repair" || l.LastIndex() != tc.last+1 {
				t.Fatalf("entry %d after the cut: %q, %v; last %d", tc.last+1, e.Payload, err, l.LastIndex())
			}
		})
	}
}

// TestDamageCheckUnsynced: with CheckUnsynced, a bad entry above the synced
// position that a valid entry follows is damage (under ASYNC_FLUSH it may
// have been acknowledged); a bad last entry is still a torn tail.
func TestDamageCheckUnsynced(t *testing.T) {
	tests := []struct {
		entry uint64
		want  uint64
	}{{35, 35}, {40, 0}}
	for _, tc := range tests {
		fs := NewMemFS()
		_, offs := buildLog(t, fs, 40, 10, 30)
		// lose the hint: entries 31-40 count as unsynced
		fs = fs.Crash()
		flipBits(t, fs, offs[tc.entry]+HeaderSize+1, 1)
		l, got := openUnsynced(t, fs)
		if tc.want == 0 && len(got) != 0 || tc.want != 0 && (len(got) != 1 || got[0].Index != tc.want || got[0].Had < tc.want+1) {
			t.Fatalf("flip in entry %d: damage %+v, want %d", tc.entry, got, tc.want)
		}
		if l.LastIndex() != tc.entry-1 {
			t.Fatalf("flip in entry %d: last %d", tc.entry, l.LastIndex())
		}
		_ = l.Close()
	}
}

// TestDamageRefused: an OnDamage error fails Open with that error and
// changes nothing.
func TestDamageRefused(t *testing.T) {
	fs := NewMemFS()
	_, offs := buildLog(t, fs, 40, 10, 30)
	path, at := dataFile(offs[35] + HeaderSize)
	b, _ := fs.ReadFile(path)
	if err := fs.WriteFile(path, at, []byte{^b[at]}); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("cannot record the repair")
	opts := testOpts(fs)
	opts.OnDamage = func(Damage) error { return refuse }
	if _, err := Open(testDir, opts); !errors.Is(err, refuse) {
		t.Fatalf("open: %v, want the OnDamage error", err)
	}
	opts.OnDamage = nil
	if _, err := Open(testDir, opts); !isCorrupt(err) {
		t.Fatalf("reopen: %v; the damage must still be found", err)
	}
}

// flipBits XORs mask into the byte at global offset off of fs's data files.
func flipBits(t *testing.T, fs *MemFS, off uint64, mask byte) {
	t.Helper()
	path, at := dataFile(off)
	b, err := fs.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.WriteFile(path, at, []byte{b[at] ^ mask}); err != nil {
		t.Fatal(err)
	}
}

// openUnsynced opens the log with CheckUnsynced and returns it with the
// damage recovery reported.
func openUnsynced(t *testing.T, fs *MemFS) (*Log, []Damage) {
	t.Helper()
	opts := testOpts(fs)
	opts.CheckUnsynced = true
	var got []Damage
	opts.OnDamage = func(d Damage) error { got = append(got, d); return nil }
	l, err := Open(testDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l, got
}
