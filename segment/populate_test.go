package segment

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// populateFS counts File.Populate calls by the extension of the file's
// final name (a file being prepared is still *.tmp).
type populateFS struct {
	FS
	mu    sync.Mutex
	calls map[string]int
}

func (p *populateFS) Create(name string) (File, error) { return p.wrap(name)(p.FS.Create(name)) }
func (p *populateFS) Open(name string) (File, error)   { return p.wrap(name)(p.FS.Open(name)) }

func (p *populateFS) wrap(name string) func(File, error) (File, error) {
	ext := filepath.Ext(strings.TrimSuffix(name, tmpExt))
	return func(f File, err error) (File, error) {
		if err != nil {
			return nil, err
		}
		return &populateFile{File: f, fs: p, ext: ext}, nil
	}
}

func (p *populateFS) count(ext string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[ext]
}

type populateFile struct {
	File
	fs  *populateFS
	ext string
}

func (f *populateFile) Populate() error {
	f.fs.mu.Lock()
	f.fs.calls[f.ext]++
	f.fs.mu.Unlock()
	return f.File.Populate()
}

// TestPopulateIndexFilesOnly: index files are pre-faulted, when created and
// when Open keeps one after the log's end as the next file; data files
// never are, since entries reach them with pwrite.
func TestPopulateIndexFilesOnly(t *testing.T) {
	fs := &populateFS{FS: NewMemFS(), calls: map[string]int{}}
	l := mustOpen(t, fs)
	m := newModel()
	if err := appendRandom(t, l, m, rand.New(rand.NewPCG(1, 1)), 2000, 100); err != nil {
		t.Fatal(err)
	}
	mustSync(t, l)
	l.WaitPrepared()
	created := fs.count(indexExt)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, fs)
	defer l.Close()
	l.WaitPrepared()
	if n := fs.count(dataExt); n != 0 {
		t.Errorf("data files pre-faulted %d times", n)
	}
	if created == 0 || fs.count(indexExt) <= created {
		t.Errorf("index files pre-faulted %d times when created, %d in all after Open", created, fs.count(indexExt))
	}
}
