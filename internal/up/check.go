package up

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"os"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"gantry.dev/gantry/internal/kubebin"
	"gantry.dev/gantry/internal/kubeconfig"
	"gantry.dev/gantry/internal/server"
)

// checked is what the checks found, for the parts to be built from.
type checked struct {
	// host is the external host's configuration; nil for the embedded host.
	host *rest.Config
	bins kubebin.Set
	srv  *server.Server
	// serverCA verifies srv's certificate; nil when it was given and the
	// system's roots verify it.
	serverCA []byte
}

// check checks everything that can be wrong before anything starts, so that
// bad input leaves nothing running. The HTTP listener it opens is held from
// here on.
func check(ctx context.Context, o Options, dataDir string) (checked, error) {
	var c checked
	var err error
	switch {
	case o.InCluster && o.Kubeconfig != "":
		return c, fmt.Errorf("--in-cluster and --kubeconfig both name the host: give one")
	case o.InCluster:
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return c, fmt.Errorf("--in-cluster: %w; gantry runs in-cluster only as a pod (the Helm chart's Deployment), elsewhere use --kubeconfig", err)
		}
		if c.host, err = probeHost(cfg, "the cluster gantry runs in"); err != nil {
			return c, err
		}
	case o.Kubeconfig != "":
		if c.host, err = loadExternalHost(o.Kubeconfig); err != nil {
			return c, err
		}
	}
	// Virtual clusters run their control planes here whatever the host.
	if c.bins, err = kubebin.Find(ctx, kubebin.SearchDirs(o.KubeBinDir), kubebin.All...); err != nil {
		return c, err
	}
	var tlsConfig *tls.Config
	if o.TLSCertFile != "" {
		tlsConfig, err = server.FileTLS(o.TLSCertFile, o.TLSKeyFile)
	} else {
		var extHost []string
		if o.ExternalURL != "" {
			if u, err := url.Parse(o.ExternalURL); err == nil {
				extHost = append(extHost, u.Hostname())
			}
		}
		tlsConfig, err = server.SelfSignedTLS(dataDir, o.HTTPAddr, extHost...)
		if err == nil {
			c.serverCA, err = os.ReadFile(server.CAPath(dataDir))
		}
	}
	if err != nil {
		return c, err
	}
	c.srv, err = server.Listen(o.HTTPAddr, tlsConfig)
	return c, err
}

// loadExternalHost loads the kubeconfig and checks that its cluster answers.
func loadExternalHost(path string) (*rest.Config, error) {
	cfg, err := kubeconfig.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%w; fix the file or point --kubeconfig at another one", err)
	}
	return probeHost(cfg, "the host cluster of kubeconfig "+path)
}

// probeHost asks the host for its version, so that a host that does not
// answer is named before anything starts.
func probeHost(cfg *rest.Config, what string) (*rest.Config, error) {
	probe := rest.CopyConfig(cfg)
	probe.Timeout = 10 * time.Second
	dc, err := discovery.NewDiscoveryClientForConfig(probe)
	if err != nil {
		return nil, err
	}
	if _, err := dc.ServerVersion(); err != nil {
		return nil, fmt.Errorf("%s (%s) does not answer: %w; check that it runs and that the credentials are current", what, cfg.Host, err)
	}
	return cfg, nil
}
