package intake_test

import (
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/recoverybot/recoverybot/internal/testfiles"
)

// TestLargeCaseMessageMemory drains two case messages of 38 MB (a 28 MB
// scan, base64-encoded) and bounds what the drain allocates, per byte
// of message, and the live heap at its largest (sampled: a peak missed
// can only let it pass): the raw message, its sealed copies and its
// decoded scan are not made, or held, several times over. Allocations
// are counted, not timed, so the bound does not depend on the machine.
func TestLargeCaseMessageMemory(t *testing.T) {
	w := newWorld(t)
	contact := "jean.new@elsewhere.example"
	s := w.openLost(contact)
	rnd := rand.New(rand.NewChaCha8([32]byte{1}))
	junk := make([]byte, 28_500_000)
	for i := range junk {
		junk[i] = byte(rnd.Uint32())
	}
	var size int
	for range 2 {
		raw := customerMail(contact, "Re: ["+s.Ref+"] ma carte", "Voici ma carte d'identité.", "",
			map[string][]byte{"carte.jpg": testfiles.JPEG(junk)})
		size += len(raw)
		w.dovecot.Deliver(w.dovecot.User(), raw)
	}
	junk = nil
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	base := before.HeapAlloc
	peak := base
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	w.drain()
	close(stop)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("messages %d MB, allocated %d MB (%.2f a byte), live heap at most %d MB above the start", size>>20, alloc>>20, float64(alloc)/float64(size), (peak-base)>>20)
	// 5.4 bytes a byte: fetched, sealed for the spool, parsed (its scan
	// decoded), read back from the spool (the driver's copy and ours, so
	// that SQLite's is let go before the case's copy is written) and
	// sealed under the case key in place, the scan sealed once. One more
	// copy of each message is 6.4; sealing the message anew under the
	// case key and holding the copy read from the spool was 7.4.
	if perByte := float64(alloc) / float64(size); perByte > 6 {
		t.Errorf("%.2f bytes allocated a message byte, want at most 6", perByte)
	}
	// The live heap at its largest, one message at a time: the message,
	// its scan, decoded, and two copies of the message read back from the
	// spool (3.7 times the message).
	if limit := uint64(size / 2 * 42 / 10); peak-base > limit {
		t.Errorf("live heap %d MB above the start, want at most %d MB (4.2 times a message)", (peak-base)>>20, limit>>20)
	}
	if got := w.show(s.Ref); len(got.Documents) != 1 {
		t.Errorf("%d documents, want the one scan", len(got.Documents))
	}
}
