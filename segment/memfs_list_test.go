package segment

import (
	"slices"
	"testing"
)

// MemFS.List lists subdirectories as well as files, as OSFS (os.ReadDir)
// does: packages that keep a directory per key (the broker's consume
// queues) discover their keys by listing.
func TestMemFSListSubdirs(t *testing.T) {
	m := NewMemFS()
	for _, d := range []string{"/r/a/x", "/r/b"} {
		if err := m.MkdirAll(d); err != nil {
			t.Fatal(err)
		}
	}
	f, err := m.Create("/r/file")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := m.List("/r")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "file"}; !slices.Equal(got, want) {
		t.Fatalf("List(/r) = %q, want %q", got, want)
	}
}
