package appapi

import (
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/internal/api/apitest"
	"gantry.dev/gantry/internal/eventstream"
)

// A stream that stays quiet longer than eventstream.WriteTimeout lives on over HTTP/2: a
// write deadline left set after the last write reset the stream when it passed
// (browsers: net::ERR_HTTP2_PROTOCOL_ERROR, then a reconnect).
func TestStreamIdleOverHTTP2(t *testing.T) {
	f := newFixtureWith(t, apitest.Options{HTTP2: true})
	old := eventstream.WriteTimeout
	eventstream.WriteTimeout = 100 * time.Millisecond
	t.Cleanup(func() { eventstream.WriteTimeout = old })
	f.api.Heartbeat = time.Hour
	s := f.stream("alice", StreamPath+"?projects="+f.A)
	if got := s.initial(t); !strings.Contains(got, "/one") {
		t.Fatalf("initial %s", got)
	}
	time.Sleep(5 * eventstream.WriteTimeout)
	f.label(f.A, "one", "after-idle")
	s.expect(t, EventModified, "one")
}
