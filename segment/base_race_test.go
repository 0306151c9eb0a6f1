package segment

import (
	"sync"
	"testing"
)

// TestBaseDuringCheckpoint: Base reads the checkpoint while Sync and
// Checkpoint write it (a race the review found: Base held mu, the writers
// syncMu). Meaningful under -race, as make test runs it.
func TestBaseDuringCheckpoint(t *testing.T) {
	fs := NewMemFS()
	l := mustOpen(t, fs)
	defer l.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			if _, err := l.Append(1, TypeNormal, []byte("x")); err != nil {
				t.Error(err)
				return
			}
			mustSync(t, l)
			if true {
				_ = l.Checkpoint()
			}
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			return
		default:
			l.Base() // the leader calls it (sendReset) while the flusher syncs
		}
	}
}
