package platform

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/uuid"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// LeaderLease is the Lease (in SystemNamespace) the replicas of gantry elect
// their leader with: its holder runs every reconciler, the syncers, the Git
// poller, the sleeper and the Argo CD integration; every replica serves HTTP
// (API, UI, OpenID Connect, the proxy).
const LeaderLease = "gantry-leader"

// The leader renews the Lease every RetryPeriod and gives up leading when it
// could not for RenewDeadline; a replica takes over a Lease it has seen
// unchanged for LeaseDuration, asking every RetryPeriod with up to 1.2 times
// that again of jitter (client-go). So a killed leader hands over within
// LeaseDuration plus about two RetryPeriods plus jitter (≤ 12 s; 10 s / 2 s
// measured up to 14.8 s) and the new leader's caches are already warm; a
// stopped one releases the Lease at once (ReleaseOnCancel).
const (
	LeaseDuration = 8 * time.Second
	RenewDeadline = 6 * time.Second
	RetryPeriod   = 1500 * time.Millisecond
)

func electLeader(o *ctrl.Options, cfg *rest.Config) error {
	lease, renew, retry := LeaseDuration, RenewDeadline, RetryPeriod
	o.LeaderElection = true
	o.LeaderElectionID = LeaderLease
	o.LeaderElectionNamespace = SystemNamespace
	o.LeaderElectionResourceLock = "leases"
	o.LeaderElectionReleaseOnCancel = true
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = &lease, &renew, &retry
	// The lock controller-runtime would make (hostname_uuid, a client
	// timeout under RenewDeadline), made patient.
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	cfg = rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election")
	cfg.Timeout = max(RenewDeadline/2, time.Second)
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return err
	}
	coord, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		return err
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, SystemNamespace, LeaderLease, core, coord,
		resourcelock.ResourceLockConfig{Identity: host + "_" + string(uuid.NewUUID())})
	if err != nil {
		return err
	}
	o.LeaderElectionResourceLockInterface = &patientLock{Interface: lock, since: time.Now(), grace: startGrace}
	return nil
}

// startGrace is how long a replica that has just started leaves a Lease
// another holder had to the replicas already running: one LeaseDuration for
// it to expire and three RetryPeriods for a standby to take it.
const startGrace = LeaseDuration + 3*RetryPeriod

// patientLock is a Lease lock that, for startGrace after the replica
// started, does not take the Lease from another holder, even an expired one.
// Why: a killed leader's container is started again at once in its pod, and
// raced the standby for the expired Lease, winning about half the time; then
// the controllers ran on cold caches while a standby with warm ones waited
// (and the e2e failover test saw the Lease go back to the dead pod). A Lease
// nobody holds (released by a leader that stopped cleanly) or that this
// replica holds is taken at once.
type patientLock struct {
	resourcelock.Interface
	since time.Time
	grace time.Duration

	mu   sync.Mutex
	seen string // the holder in the record last read
}

func (l *patientLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	r, raw, err := l.Interface.Get(ctx)
	if err == nil && r != nil {
		l.mu.Lock()
		l.seen = r.HolderIdentity
		l.mu.Unlock()
	}
	return r, raw, err
}

func (l *patientLock) Update(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	l.mu.Lock()
	seen := l.seen
	l.mu.Unlock()
	if wait := l.grace - time.Since(l.since); wait > 0 && seen != "" && seen != l.Identity() {
		return fmt.Errorf("this replica has just started: it leaves the Lease %s held by %s to the running replicas for another %s",
			LeaderLease, seen, wait.Round(100*time.Millisecond))
	}
	return l.Interface.Update(ctx, r)
}

// everyReplica runs a runnable on every replica, not only the leader's
// (controller-runtime runs a runnable that does not say so on the leader
// only).
type everyReplica struct{ manager.Runnable }

func (everyReplica) NeedLeaderElection() bool { return false }

// leading reports whether this replica runs the controllers now: always
// without leader election.
func (p *Platform) leading() bool {
	select {
	case <-p.mgr.Elected():
		return true
	default:
		return false
	}
}

// Leading reports whether this replica runs the controllers now (always
// without leader election).
func (p *Platform) Leading() bool { return p.leading() }
