// Package hostapi makes the embedded host's API server reachable from the
// pods of its real node, through the kubernetes Service, as in any cluster:
// in-cluster clients (gantry itself installed by its Helm chart, operators,
// kubectl in a pod) read KUBERNETES_SERVICE_HOST and the service account's
// token and CA, and expect them to work.
//
// The API server binds loopback only (gantry's default: nothing listens
// beyond the machine unless asked), so no endpoint a pod reaches exists. A
// TCP relay in gantry's process listens on the node's address and passes
// connections through to it; TLS and authentication stay the API server's
// (its certificate already names the kubernetes Service's ClusterIP). An
// EndpointSlice of the kubernetes Service points at the relay, and the
// node's kube-proxy forwards the ClusterIP there.
//
// Only the host's own pods are let through: a virtual cluster's pod (a
// tenant's workload on the same node) is refused at connect, before a byte of
// TLS, whatever token it holds; so is any address that is not a pod of the
// host or the node itself.
package hostapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/go-logr/logr"
)

// SliceName is the EndpointSlice of the kubernetes Service gantry keeps.
const SliceName = "kubernetes-gantry"

// Options configure the relay.
type Options struct {
	// Listen is the node's address, which its pods reach.
	Listen netip.Addr
	// APIServer is the loopback host:port the API server serves on.
	APIServer string
	// Kube reads pods (whose address is the caller's) and writes the
	// EndpointSlice; the host's admin client.
	Kube kubernetes.Interface
	// Tenant says whether a namespace holds a virtual cluster's pods (by its
	// labels); their pods are refused.
	Tenant func(ns *corev1.Namespace) bool
	Log    logr.Logger
}

// Relay passes host pods' connections through to the API server.
type Relay struct {
	opts Options
	l    net.Listener
	wg   sync.WaitGroup
}

// Start listens on a free port of opts.Listen, points the kubernetes
// Service's EndpointSlice at it and serves until ctx ends.
func Start(ctx context.Context, opts Options) (*Relay, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(opts.Listen.String(), "0"))
	if err != nil {
		return nil, fmt.Errorf("host API for pods: listening on %s: %w", opts.Listen, err)
	}
	r := &Relay{opts: opts, l: l}
	if err := r.ensureSlice(ctx); err != nil {
		l.Close()
		return nil, err
	}
	r.start(ctx)
	return r, nil
}

// start serves r.l until ctx ends.
func (r *Relay) start(ctx context.Context) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		<-ctx.Done()
		r.l.Close()
	}()
	r.wg.Add(1)
	go r.serve(ctx)
}

// Addr is where the relay listens.
func (r *Relay) Addr() string { return r.l.Addr().String() }

// Wait returns once the relay has stopped (ctx ended) and its connections closed.
func (r *Relay) Wait() { r.wg.Wait() }

func (r *Relay) serve(ctx context.Context) {
	defer r.wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := r.l.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				r.opts.Log.Error(err, "host API relay stopped accepting")
			}
			return
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			r.relay(ctx, c)
		}()
	}
}

func (r *Relay) relay(ctx context.Context, c net.Conn) {
	defer c.Close()
	src, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return
	}
	if err := r.allowed(ctx, src.Addr().Unmap()); err != nil {
		r.opts.Log.Info("host API: connection refused", "from", src.String(), "reason", err.Error())
		return
	}
	var d net.Dialer
	up, err := d.DialContext(ctx, "tcp", r.opts.APIServer)
	if err != nil {
		r.opts.Log.Error(err, "host API: the API server does not answer")
		return
	}
	defer up.Close()
	// Both ways until either side closes; ctx's end closes both.
	stop := context.AfterFunc(ctx, func() { c.Close(); up.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

// allowed lets through the node itself (its address is the listener's) and pods of the host that are not a
// virtual cluster's.
func (r *Relay) allowed(ctx context.Context, ip netip.Addr) error {
	if ip == r.opts.Listen {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	pods, err := r.opts.Kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("status.podIP", ip.String()).String()})
	if err != nil {
		return fmt.Errorf("looking up the pod of %s: %w", ip, err)
	}
	live := 0
	for _, p := range pods.Items {
		if p.Spec.HostNetwork || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		live++
		ns, err := r.opts.Kube.CoreV1().Namespaces().Get(ctx, p.Namespace, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading namespace %s: %w", p.Namespace, err)
		}
		if r.opts.Tenant(ns) {
			return fmt.Errorf("pod %s/%s belongs to a virtual cluster, whose pods reach only their own API server", p.Namespace, p.Name)
		}
	}
	if live == 0 {
		return fmt.Errorf("no pod of the host has address %s", ip)
	}
	return nil
}

// ensureSlice points the kubernetes Service at the relay. The API server
// keeps no endpoints of its own for it (--endpoint-reconciler-type=none: a
// loopback address is no endpoint), so this slice is the only one.
func (r *Relay) ensureSlice(ctx context.Context) error {
	_, portStr, _ := net.SplitHostPort(r.l.Addr().String())
	port, _ := strconv.Atoi(portStr)
	family := discoveryv1.AddressTypeIPv4
	if r.opts.Listen.Is6() {
		family = discoveryv1.AddressTypeIPv6
	}
	want := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: SliceName, Namespace: metav1.NamespaceDefault, Labels: map[string]string{
			discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "gantry.dev"}},
		AddressType: family,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{r.opts.Listen.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		// The kubernetes Service's port is named https.
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("https"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(port))}},
	}
	slices := r.opts.Kube.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault)
	cur, err := slices.Get(ctx, SliceName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = slices.Create(ctx, want, metav1.CreateOptions{})
	case err == nil:
		want.ResourceVersion = cur.ResourceVersion
		_, err = slices.Update(ctx, want, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("host API for pods: writing EndpointSlice default/%s: %w", SliceName, err)
	}
	return nil
}
