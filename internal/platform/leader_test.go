package platform

import (
	"context"
	"testing"
	"time"

	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// memLock is a Lease lock in memory.
type memLock struct {
	id  string
	rec *resourcelock.LeaderElectionRecord
}

func (m *memLock) Get(context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	r := *m.rec
	return &r, nil, nil
}
func (m *memLock) Create(_ context.Context, r resourcelock.LeaderElectionRecord) error {
	m.rec = &r
	return nil
}
func (m *memLock) Update(_ context.Context, r resourcelock.LeaderElectionRecord) error {
	m.rec = &r
	return nil
}
func (m *memLock) RecordEvent(string) {}
func (m *memLock) Identity() string   { return m.id }
func (m *memLock) Describe() string   { return "mem" }

// A replica that has just started leaves a Lease another replica held to
// the running ones (even once it has expired), takes one nobody holds or it
// holds itself at once, and after startGrace takes the other's too.
func TestPatientLock(t *testing.T) {
	ctx := context.Background()
	take := func(l *patientLock) error {
		if _, _, err := l.Get(ctx); err != nil {
			t.Fatal(err)
		}
		return l.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: l.Identity()})
	}
	held := func(holder string) *memLock {
		return &memLock{id: "pod-a_new", rec: &resourcelock.LeaderElectionRecord{HolderIdentity: holder}}
	}

	l := &patientLock{Interface: held("pod-a_old"), since: time.Now(), grace: startGrace}
	if err := take(l); err == nil {
		t.Fatal("a replica that has just started took the Lease its dead predecessor held")
	}
	if got := l.Interface.(*memLock).rec.HolderIdentity; got != "pod-a_old" {
		t.Fatalf("holder %q after a refused take", got)
	}
	l.since = time.Now().Add(-startGrace)
	if err := take(l); err != nil {
		t.Fatalf("after startGrace: %v", err)
	}
	for _, holder := range []string{"", "pod-a_new"} { // released; its own
		l := &patientLock{Interface: held(holder), since: time.Now(), grace: startGrace}
		if err := take(l); err != nil {
			t.Errorf("Lease held by %q: %v", holder, err)
		}
	}
}
