package fault

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rmqlog/rmqlog/segment"
)

// TestDiskFull: while the disk is full, creating a file, allocating and
// writing beyond a file's end fail with ENOSPC as the OS reports it;
// writes inside the file succeed; once space is back everything works.
func TestDiskFull(t *testing.T) {
	tests := []struct {
		name    string
		full    bool
		op      func(fs *FS, f segment.File, dir string) (int, error)
		wantN   int
		noSpace bool // the op must fail with ENOSPC
	}{
		{"create", true, func(fs *FS, _ segment.File, dir string) (int, error) {
			_, err := fs.Create(filepath.Join(dir, "new"))
			return 0, err
		}, 0, true},
		{"allocate", true, func(_ *FS, f segment.File, _ string) (int, error) { return 0, f.Allocate(8192) }, 0, true},
		{"write past the end", true, func(_ *FS, f segment.File, _ string) (int, error) {
			return f.WriteAt(make([]byte, 10), 4096)
		}, 0, true},
		{"write across the end", true, func(_ *FS, f segment.File, _ string) (int, error) {
			return f.WriteAt(make([]byte, 10), 4090)
		}, 6, true},
		{"write inside", true, func(_ *FS, f segment.File, _ string) (int, error) {
			return f.WriteAt(make([]byte, 10), 100)
		}, 10, false},
		{"create with space", false, func(fs *FS, _ segment.File, dir string) (int, error) {
			_, err := fs.Create(filepath.Join(dir, "new"))
			return 0, err
		}, 0, false},
		{"write past the end with space", false, func(_ *FS, f segment.File, _ string) (int, error) {
			return f.WriteAt(make([]byte, 10), 4096)
		}, 10, false},
		{"allocate with space", false, func(_ *FS, f segment.File, _ string) (int, error) {
			return 0, f.Allocate(8192)
		}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var d Disk
			fs := NewFS(nil, &d)
			f, err := fs.Create(filepath.Join(dir, "f"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Allocate(4096); err != nil {
				t.Fatal(err)
			}
			d.SetFull(tc.full)
			n, err := tc.op(fs, f, dir)
			var pe *os.PathError
			if n != tc.wantN {
				t.Errorf("wrote %d bytes, want %d", n, tc.wantN)
			}
			if isNoSpace := errors.Is(err, syscall.ENOSPC) && errors.As(err, &pe); isNoSpace != tc.noSpace ||
				(!tc.noSpace && err != nil) {
				t.Errorf("error %v; want ENOSPC in an *os.PathError: %v", err, tc.noSpace)
			}
		})
	}
}

// TestLogDiskFull: segment.Log sees the full disk as ErrDiskFull when it
// needs a new file, stays usable, and appends again once space is back.
func TestLogDiskFull(t *testing.T) {
	var d Disk
	l, err := segment.Open(t.TempDir(), logOpts(NewFS(nil, &d)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.WaitPrepared()
	d.SetFull(true)
	var full error
	for i := 0; i < 100 && full == nil; i++ { // 100 entries span several 4 KiB files
		_, full = l.Append(1, segment.TypeNormal, payload(l.LastIndex()+1))
	}
	if !errors.Is(full, segment.ErrDiskFull) {
		t.Fatalf("appends on a full disk: %v, want ErrDiskFull", full)
	}
	if l.Err() != nil {
		t.Fatalf("the log failed on a full disk: %v; want it usable", l.Err())
	}
	d.SetFull(false)
	for range 50 {
		if _, err := l.Append(1, segment.TypeNormal, payload(l.LastIndex()+1)); err != nil {
			t.Fatalf("append once space is back: %v", err)
		}
	}
}
