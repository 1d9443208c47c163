package platform

import (
	"time"

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

func electLeader(o *ctrl.Options) {
	lease, renew, retry := LeaseDuration, RenewDeadline, RetryPeriod
	o.LeaderElection = true
	o.LeaderElectionID = LeaderLease
	o.LeaderElectionNamespace = SystemNamespace
	o.LeaderElectionResourceLock = "leases"
	o.LeaderElectionReleaseOnCancel = true
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = &lease, &renew, &retry
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
