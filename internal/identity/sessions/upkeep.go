package sessions

import (
	"context"
	"time"

	"github.com/go-logr/logr"
)

// Upkeep is the periodic care of sessions while gantry runs: it rotates the
// signing keys when due (dropping the ones no unexpired token can need) and
// deletes expired refresh tokens. Start runs it until its context ends, so it
// is a controller-runtime Runnable.
type Upkeep struct {
	Signer *Signer
	// Collect delete expired refresh tokens: gantry's own sessions'
	// (SecretRefreshStore.Collect) and any other holder's (the OpenID Connect
	// provider's). An error is logged and tried again at the next round.
	Collect []func(context.Context) error
	// Every is the period; an hour when zero, plenty for a daily rotation.
	Every  time.Duration
	Logger logr.Logger
	// Leading reports whether this replica of gantry is the one that
	// rotates and collects (leader election); nil: always. The others read
	// the keys again every Follow (a minute when zero), so that they sign
	// with the leader's current key long before it drops the old one.
	Leading func() bool
	Follow  time.Duration
}

// Start runs a round every period until ctx ends; it never fails, for a
// failed round only waits for the next one. Run it on every replica.
func (u *Upkeep) Start(ctx context.Context) error {
	every := u.Every
	if every <= 0 {
		every = time.Hour
	}
	tick := every
	if u.Leading != nil {
		tick = u.Follow
		if tick <= 0 {
			tick = time.Minute
		}
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			switch {
			case u.Leading != nil && !u.Leading():
				if err := u.Signer.Reload(ctx); err != nil {
					u.Logger.Error(err, "reading the session signing keys again")
				}
			case time.Since(last) >= every-tick/2:
				// Reload first: a replica that has just become leader
				// must not save over keys the previous one made.
				if u.Leading != nil {
					if err := u.Signer.Reload(ctx); err != nil {
						u.Logger.Error(err, "reading the session signing keys again")
						continue
					}
				}
				last = time.Now()
				u.round(ctx)
			}
		}
	}
}

func (u *Upkeep) round(ctx context.Context) {
	if _, err := u.Signer.RotateIfDue(ctx); err != nil {
		u.Logger.Error(err, "rotating session signing keys")
	}
	for _, collect := range u.Collect {
		if err := collect(ctx); err != nil {
			u.Logger.Error(err, "collecting expired refresh tokens")
		}
	}
}
