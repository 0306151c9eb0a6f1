package main

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/commitlog/classic"
)

// classicDir writes a classic CommitLog of n messages in 1 KiB files
// under root/commitlog and returns that directory.
func classicDir(t *testing.T, root string, n int) string {
	t.Helper()
	dir := filepath.Join(root, "commitlog")
	w, err := classic.NewWriter(dir, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m := commitlog.Message{Topic: []byte("T"), QueueID: int32(i % 2), Body: fmt.Appendf(nil, "message %d", i),
			BornHost: netip.MustParseAddrPort("10.0.0.7:1"), StoreHost: netip.MustParseAddrPort("10.0.0.1:2")}
		if _, err := w.Append(&m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCommitlogCheck: the operator's view of docs/upgrade.md's step 3 —
// one copy verified alone, equal copies (exit 0), a slave behind (exit 1,
// which file to copy from where), a torn last message reported, a missing
// file named; a usage error exits 2.
func TestCommitlogCheck(t *testing.T) {
	master := classicDir(t, filepath.Join(t.TempDir(), "m"), 40)
	same := classicDir(t, filepath.Join(t.TempDir(), "s"), 40)
	behind := classicDir(t, filepath.Join(t.TempDir(), "b"), 25)
	torn := classicDir(t, filepath.Join(t.TempDir(), "t"), 40)
	files, _ := os.ReadDir(torn)
	last := filepath.Join(torn, files[len(files)-1].Name())
	b, _ := os.ReadFile(last)
	end := bytes.LastIndex(b, []byte("message 39")) // the last message's body: cut it
	if err := os.WriteFile(last, append(b[:end:end], make([]byte, len(b)-end)...), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := classicDir(t, filepath.Join(t.TempDir(), "x"), 40)
	mf, _ := os.ReadDir(missing)
	os.Remove(filepath.Join(missing, mf[1].Name()))

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"one copy", []string{"--dir", master}, 0, []string{"40 messages", "every message verifies"}},
		{"equal copies", []string{"--dir", master, "--dir", same}, 0, []string{"same"}},
		{"a slave behind", []string{"--dir", master, "--dir", behind}, 1, []string{"behind", "copy ", "from " + master}},
		{"a torn last message", []string{"--dir", torn}, 0, []string{"39 messages", "torn write"}},
		{"a missing file", []string{"--dir", missing}, 1, []string{"missing file: " + mf[1].Name()}},
		{"no --dir", nil, 2, []string{"give --dir"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCmd(t, append([]string{"commitlog", "check"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Fatalf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestCommitlogImportRefuses: an import into a group whose member answers
// on its peer port, into a member without the broker, or from a directory
// that is not a CommitLog, is refused with what to do; a refused import
// writes nothing, and the same command then succeeds.
func TestCommitlogImportRefuses(t *testing.T) {
	dir := t.TempDir()
	cl := classicDir(t, filepath.Join(dir, "classic"), 30)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peer := l.Addr().String()
	conf := func(name, extra string) string {
		p := filepath.Join(dir, name+".conf")
		text := strings.Join([]string{"brokerName=broker-a", "enableDLegerCommitLog=true", "dLegerGroup=broker-a",
			"dLegerPeers=n0-" + peer, "dLegerSelfId=n0", "storePathRootDir=" + filepath.Join(dir, name),
			"mappedFileSizeCommitLog=8388608", "listenPort=1", extra, ""}, "\n")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	running := conf("n0", "")
	if out, code := runCmd(t, "commitlog", "import", "--dir", cl, "--to", running); code != 1 || !strings.Contains(out, "the group is running") {
		t.Fatalf("import while a member answers: exit %d\n%s", code, out)
	}
	l.Close()
	if out, code := runCmd(t, "commitlog", "import", "--dir", cl, "--to", conf("nb", "rmqlogBrokerEnable=false")); code != 1 || !strings.Contains(out, "rmqlogBrokerEnable=false") {
		t.Fatalf("import into a member without the broker: exit %d\n%s", code, out)
	}
	if out, code := runCmd(t, "commitlog", "import", "--dir", dir, "--to", running); code != 1 || !strings.Contains(out, "classic") {
		t.Fatalf("import from a directory that is no CommitLog: exit %d\n%s", code, out)
	}
	out, code := runCmd(t, "commitlog", "import", "--dir", cl, "--to", running)
	if code != 0 || !strings.Contains(out, "messages    30 ") || !strings.Contains(out, "digest: entries 1..") ||
		!strings.Contains(out, "no topics.json") {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	if out, code := runCmd(t, "commitlog", "import", "--dir", cl, "--to", running); code != 1 || !strings.Contains(out, "not empty") {
		t.Fatalf("second import: exit %d\n%s", code, out)
	}
}
