package controlplane

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"gantry.dev/gantry/internal/kubebin"
)

// Controllers that a tenant (virtual) control plane runs: everything but what needs
// real nodes, clouds or volumes, which the host cluster owns. vCluster runs the same set.
var TenantControllers = []string{"*", "-nodeipam", "-nodelifecycle", "-persistentvolume-binder", "-attachdetach",
	"-persistentvolume-expander", "-ttl"}

// HostControllers is the set for a cluster that owns its (simulated) nodes: pod CIDRs
// are not allocated because no network plugin consumes them.
var HostControllers = []string{"*", "-nodeipam"}

// Options describe one control plane.
type Options struct {
	// Name identifies the control plane in logs and errors ("host", "vcluster p-a/dev").
	Name string
	// Dir is the control plane's own data directory; it must not be shared.
	Dir string
	// LogDir receives the components' log, kube-controlplane.log (default Dir/logs).
	LogDir string
	// Binaries holds the kube-controlplane binary (kubebin.Find).
	Binaries kubebin.Set
	// Storage is a kine DSN; empty means SQLite in Dir/kine/state.db.
	Storage string
	// BindAddress is where kube-apiserver listens (default 127.0.0.1).
	BindAddress string
	// APIPort is the API server's port; 0 keeps the port used before, or picks a free one.
	APIPort int
	// ServiceCIDR is the Service ClusterIP range (default 10.96.0.0/16).
	ServiceCIDR string
	// ExtraSANs are added to the serving certificate (names or IPs).
	ExtraSANs []string
	// Scheduler starts kube-scheduler too.
	Scheduler bool
	// Controllers is kube-controller-manager's --controllers list (default TenantControllers).
	Controllers []string
	// Flag overrides per component, applied over the defaults.
	APIServerFlags, ControllerManagerFlags, SchedulerFlags Flags
	// Env (KEY=VALUE) is added to the control plane process's environment, after
	// the tuned defaults.
	Env []string
	// Nice, when positive, lowers the process's CPU priority (supervisor.Spec.Nice).
	Nice int
	// Kubelets: real kubelets join this control plane. kube-apiserver then gets a
	// client certificate for them (logs, exec, port-forward reach the kubelet as
	// an authenticated user, never anonymously), verifies their serving
	// certificates against the CA, and reaches them by InternalIP first, so that
	// a node's name need not resolve (no /etc/hosts edits).
	Kubelets bool
}

func (o *Options) setDefaults() error {
	if o.Name == "" {
		o.Name = filepath.Base(o.Dir)
	}
	if o.Dir == "" {
		return fmt.Errorf("control plane %s: no data directory", o.Name)
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	o.Dir = abs
	if o.LogDir == "" {
		o.LogDir = filepath.Join(o.Dir, "logs")
	}
	if o.BindAddress == "" {
		o.BindAddress = "127.0.0.1"
	}
	if net.ParseIP(o.BindAddress) == nil {
		return fmt.Errorf("control plane %s: bind address %q is not an IP address", o.Name, o.BindAddress)
	}
	if o.ServiceCIDR == "" {
		o.ServiceCIDR = "10.96.0.0/16"
	}
	if len(o.Controllers) == 0 {
		o.Controllers = TenantControllers
	}
	if o.Storage != "" && !strings.Contains(o.Storage, "://") {
		return fmt.Errorf("control plane %s: storage %q is not a DSN (postgres://…, mysql://…); leave it empty for embedded SQLite", o.Name, o.Storage)
	}
	return nil
}

func (o *Options) components() []string {
	cs := []string{kubebin.APIServer, kubebin.ControllerManager}
	if o.Scheduler {
		cs = append(cs, kubebin.Scheduler)
	}
	return cs
}
