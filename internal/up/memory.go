package up

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// gantry's work comes in bursts (a thousand apps synced or refreshed, then
// nothing), and Go keeps the heap a burst grew for the next one: the
// garbage collector frees it, but the pages go back to the system only
// slowly, and not below about twice the live heap. So gantry's RSS after
// each burst stood well above its live heap (issue 20: RSS +23% after ten
// refreshes of 1,000 apps, with the live heap flat: the rest was garbage
// awaiting a collection and free pages kept). Once a burst is over and the
// heap holds much more than its live objects, releaseWhenIdle collects and
// gives the rest back.
const (
	// memoryCheck is how often the heap is looked at.
	memoryCheck = 15 * time.Second
	// minRelease: less free memory than this is not worth a collection.
	minRelease = 16 << 20
)

// memSample is what releaseWhenIdle reads of the runtime.
type memSample struct {
	allocated uint64 // bytes allocated since the process began
	live      uint64 // the heap live after the last collection
	held      uint64 // heap memory not returned to the system: objects live or dead, spans' slack, free pages
}

var memoryMetrics = []string{"/gc/heap/allocs:bytes", "/gc/heap/live:bytes",
	"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes", "/memory/classes/heap/free:bytes"}

func readMemory() memSample {
	s := make([]metrics.Sample, len(memoryMetrics))
	for i, name := range memoryMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	return memSample{allocated: v(0), live: v(1), held: v(2) + v(3) + v(4)}
}

// shouldRelease says whether to collect and return memory now: the process
// was quiet since the last look (it allocated less than a quarter of its
// live heap: a busy one would only fault the pages back in) and its heap
// holds at least minRelease, and a quarter of the live heap, beyond what
// is live.
func shouldRelease(prev, cur memSample) bool {
	quiet := cur.allocated-prev.allocated < cur.live/4
	spare := cur.held - min(cur.held, cur.live)
	return quiet && spare >= minRelease && spare >= cur.live/4
}

// releaseWhenIdle returns free memory to the system after bursts of work,
// until ctx ends. The cost is one collection per burst.
func releaseWhenIdle(ctx context.Context) {
	t := time.NewTicker(memoryCheck)
	defer t.Stop()
	prev := readMemory()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := readMemory()
		if shouldRelease(prev, cur) {
			debug.FreeOSMemory()
			cur = readMemory()
		}
		prev = cur
	}
}
