package classic_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/commitlog/classic"
)

// makeFiles creates, in a new directory, a file of size bytes for each
// name (a name ending in "/" is a directory) and returns the directory.
func makeFiles(t *testing.T, files map[string]int64) string {
	t.Helper()
	dir := t.TempDir()
	for name, size := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, size); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	f0 = "00000000000000000000"
	f1 = "00000000000000004096"
	f2 = "00000000000000008192"
	f3 = "00000000000000012288"
)

func TestOpen(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]int64
		fileSize int64
		want     []string // the names Open lists
		ignored  []string
		wantErr  []error
		wantText []string // fragments of the error, DIR for the directory
	}{
		{name: "contiguous, file size inferred", files: map[string]int64{f0: 4096, f1: 4096, f2: 4096}, want: []string{f0, f1, f2}},
		{name: "file size given", files: map[string]int64{f1: 4096, f2: 4096}, fileSize: 4096, want: []string{f1, f2}},
		{name: "ignored: a directory, hidden files, an empty last file",
			files: map[string]int64{f0: 4096, f1: 4096, f2: 0, "sub/": 0, ".DS_Store": 10, ".00000000000000004096.x1y2": 77},
			want:  []string{f0, f1},
			ignored: []string{".00000000000000004096.x1y2 (a hidden file)", ".DS_Store (a hidden file)",
				f2 + " (an empty last file: the broker had only begun to create it)", "sub (a directory)"}},
		{name: "empty directory", files: map[string]int64{},
			wantErr: []error{classic.ErrEmpty}, wantText: []string{"classic: no CommitLog files in DIR", "store/commitlog directory?"}},
		{name: "only litter", files: map[string]int64{".DS_Store": 10, "sub/": 0},
			wantErr: []error{classic.ErrEmpty}},
		{name: "a name with a suffix, a short name, a name of letters",
			files:   map[string]int64{f0: 4096, f0 + ".bak": 4096, "1073741824": 4096, "checkpoint": 4096},
			wantErr: []error{classic.ErrName},
			wantText: []string{"DIR/00000000000000000000.bak: classic: not a CommitLog file name (a CommitLog file is named by its start offset in 20 digits, e.g. 00000000001073741824): move it out of the directory",
				"DIR/1073741824: classic: not a CommitLog file name", "DIR/checkpoint: classic: not a CommitLog file name"}},
		{name: "an offset beyond 2^63", files: map[string]int64{"99999999999999999999": 4096},
			wantErr: []error{classic.ErrName}, wantText: []string{"DIR/99999999999999999999: classic: not a CommitLog file name: the offset is beyond 2^63"}},
		{name: "a file cut short", files: map[string]int64{f0: 4096, f1: 1000, f2: 4096},
			wantErr: []error{classic.ErrFileSize},
			wantText: []string{"classic: wrong file size: DIR/00000000000000004096 has 1000 bytes, want 4096 (the size of the first file, 00000000000000000000): " +
				"cut short by an interrupted copy, or from a broker with another mappedFileSizeCommitLog; copy it again from its source"}},
		{name: "files of another size than asked", files: map[string]int64{f0: 4096, f1: 4096}, fileSize: 8192,
			wantErr: []error{classic.ErrFileSize},
			wantText: []string{"classic: wrong file size: every file in DIR has 4096 bytes, not 8192 as asked: " +
				"pass the broker's mappedFileSizeCommitLog, or 0 to take the files' size"}},
		{name: "a file of another size than asked", files: map[string]int64{f0: 4096, f1: 4000}, fileSize: 4096,
			wantErr:  []error{classic.ErrFileSize},
			wantText: []string{"DIR/00000000000000004096 has 4000 bytes, want 4096 (the file size asked for)"}},
		{name: "a first file too small to be a CommitLog file", files: map[string]int64{f0: 10},
			wantErr: []error{classic.ErrFileSize}, wantText: []string{"DIR/00000000000000000000 has 10 bytes, the file size of this directory, which is no CommitLog file size (99 to 2147483647 bytes"}},
		{name: "a missing file", files: map[string]int64{f0: 4096, f2: 4096, f3: 4096},
			wantErr: []error{classic.ErrMissingFile},
			wantText: []string{"classic: missing file: 00000000000000004096 between 00000000000000000000 and 00000000000000008192 in DIR: " +
				"copy it from another copy of this CommitLog (rmqlog commitlog check compares copies)"}},
		{name: "two missing files", files: map[string]int64{f0: 4096, f3: 4096},
			wantErr: []error{classic.ErrMissingFile}, wantText: []string{"00000000000000004096 (and 1 more) between 00000000000000000000 and 00000000000000012288"}},
		{name: "a first file off the grid", files: map[string]int64{"00000000000000001000": 4096, "00000000000000005096": 4096},
			wantErr: []error{classic.ErrMissingFile}, wantText: []string{"the first file DIR/00000000000000001000 starts at 1000, not a multiple of the file size 4096"}},
		{name: "a file inside the one before", files: map[string]int64{f0: 8192, f1: 8192},
			wantErr: []error{classic.ErrMissingFile}, wantText: []string{"DIR/00000000000000004096 starts at 4096, inside 00000000000000000000, which holds offsets 0 to 8192"}},
		{name: "every problem at once", files: map[string]int64{f0: 4096, f1: 100, f3: 4096, "x.log": 1},
			wantErr: []error{classic.ErrName, classic.ErrFileSize, classic.ErrMissingFile}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := makeFiles(t, tc.files)
			d, err := classic.Open(dir, tc.fileSize)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("Open succeeded: %+v", d)
				}
				for _, want := range tc.wantErr {
					if !errors.Is(err, want) {
						t.Errorf("error %q is not %v", err, want)
					}
				}
				for _, frag := range tc.wantText {
					if frag = strings.ReplaceAll(frag, "DIR", dir); !strings.Contains(err.Error(), frag) {
						t.Errorf("error %q\nlacks %q", err, frag)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range d.Files {
				names = append(names, f.Name)
			}
			slices.Sort(d.Ignored)
			if !slices.Equal(names, tc.want) || !slices.Equal(d.Ignored, tc.ignored) || d.FileSize != 4096 || d.Path != dir {
				t.Fatalf("Open: files %v, ignored %q, file size %d; want %v, %q, 4096", names, d.Ignored, d.FileSize, tc.want, tc.ignored)
			}
		})
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	_, err := classic.Open(filepath.Join(t.TempDir(), "nope"), 0)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("Open of a missing directory: %v", err)
	}
}
