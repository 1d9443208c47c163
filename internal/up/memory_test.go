package up

import (
	"runtime"
	"testing"
)

func TestShouldRelease(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		name      string
		prev, cur memSample
		want      bool
	}{
		{"quiet after a burst, much garbage or free", memSample{allocated: 1000 * mib}, memSample{allocated: 1002 * mib, live: 50 * mib, held: 90 * mib}, true},
		{"still busy", memSample{allocated: 1000 * mib}, memSample{allocated: 1200 * mib, live: 50 * mib, held: 90 * mib}, false},
		{"little beyond the live heap", memSample{allocated: 1000 * mib}, memSample{allocated: 1001 * mib, live: 50 * mib, held: 58 * mib}, false},
		{"spare small beside a large heap", memSample{allocated: 1000 * mib}, memSample{allocated: 1001 * mib, live: 400 * mib, held: 440 * mib}, false},
	}
	for _, c := range cases {
		if got := shouldRelease(c.prev, c.cur); got != c.want {
			t.Errorf("%s: shouldRelease = %v, want %v", c.name, got, c.want)
		}
	}
	// The runtime answers every metric read.
	runtime.GC()
	if s := readMemory(); s.allocated == 0 || s.live == 0 || s.held < s.live {
		t.Errorf("readMemory = %+v: a metric is missing", s)
	}
}
