package clusterapi

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/client-go/rest"

	"gantry.dev/gantry/internal/gitops/cluster"
)

// probeCache remembers each cluster's last probe for ttl, so that a list
// (the UI polls it) does not ask every cluster each time, and runs one probe
// per cluster however many requests wait for it. Keys carry the Secret's
// resourceVersion: changed credentials are probed anew.
type probeCache struct {
	probe func(context.Context, *rest.Config) (cluster.ConnectionState, string)
	ttl   time.Duration
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]probed
}

type probed struct {
	state   cluster.ConnectionState
	version string
	at      time.Time
}

func newProbeCache(probe func(context.Context, *rest.Config) (cluster.ConnectionState, string), ttl time.Duration) *probeCache {
	return &probeCache{probe: probe, ttl: ttl, entries: map[string]probed{}}
}

// get answers the cached probe of key, or probes cfg now. The probe runs
// apart from ctx (a caller that goes away does not spoil it for the others
// waiting), bounded by cluster.ProbeTimeout.
func (c *probeCache) get(ctx context.Context, key string, cfg *rest.Config) (cluster.ConnectionState, string) {
	c.mu.Lock()
	p, ok := c.entries[key]
	c.mu.Unlock()
	if ok && time.Since(p.at) < c.ttl {
		return p.state, p.version
	}
	ch := c.group.DoChan(key, func() (any, error) {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cluster.ProbeTimeout+time.Second)
		defer cancel()
		state, version := c.probe(pctx, cfg)
		p := probed{state: state, version: version, at: time.Now()}
		c.mu.Lock()
		c.entries[key] = p
		// Forget what no one asked for a while: deleted or changed Secrets.
		for k, old := range c.entries {
			if time.Since(old.at) > 10*c.ttl {
				delete(c.entries, k)
			}
		}
		c.mu.Unlock()
		return p, nil
	})
	select {
	case res := <-ch:
		p := res.Val.(probed)
		return p.state, p.version
	case <-ctx.Done():
		return cluster.ConnectionState{Status: cluster.ConnectionUnknown, Message: "request ended before the probe", AttemptedAt: time.Now().UTC()}, ""
	}
}

// put records a probe made elsewhere (the one that checked a new cluster).
func (c *probeCache) put(key string, state cluster.ConnectionState, version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[key] = probed{state: state, version: version, at: time.Now()}
}
