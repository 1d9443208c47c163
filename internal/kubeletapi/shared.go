package kubeletapi

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"gantry.dev/gantry/internal/pki"
)

// Shared makes several replicas of gantry against one host (leader
// election) one kubelet API, so that nothing in a control plane's
// configuration names a replica, and a failover restarts none (one gantry
// whose control planes are pods is shared too: a restart changes its
// listener's port, and in a pod its IP, but not the Service's):
//
//   - one CA, in Secret CASecret: made by the first replica that finds none
//     (racing replicas take the one that was created), it signs every
//     replica's serving certificate and every virtual API server's client
//     certificate, so each replica accepts what another issued;
//   - one address, Service ServiceName's ClusterIP and port ServicePort:
//     virtual Nodes carry it and every replica's serving certificate names
//     it. The Service has no selector (a replica may be a pod or a process
//     on a machine the host's pods reach); the leader points its
//     EndpointSlice at itself (Advertise), so a new leader takes the
//     address over, within the Lease's time.
type Shared struct {
	// Namespace holds the Secret, the Service and its EndpointSlice:
	// gantry's own (gantry-system).
	Namespace string
}

const (
	// CASecret holds the replicas' CA (tls.crt, tls.key).
	CASecret = "gantry-kubelet-api-ca"
	// ServiceName is the replicas' one address.
	ServiceName = "gantry-kubelet"
	// ServicePort is the Service's port, the kubelet's usual one.
	ServicePort = 10250
	// advertiseEvery is how often the leader checks that the EndpointSlice
	// still names it.
	advertiseEvery = 30 * time.Second
)

// Join reads (or makes) the shared CA and Service and issues this replica's
// serving certificate; before Start, and before any control plane or syncer
// asks for flags or the endpoint. Nothing to do unless Options.Shared.
func (s *Server) Join(ctx context.Context) error {
	if s.opts.Shared == nil {
		return nil
	}
	kp, err := s.sharedCA(ctx)
	if err != nil {
		return err
	}
	// The copy CAFile names, which a control plane's Secret takes.
	if err := kp.Write(s.opts.PKIDir, caName); err != nil {
		return fmt.Errorf("kubelet API: writing the CA's copy: %w", err)
	}
	svc, err := s.sharedService(ctx)
	if err != nil {
		return err
	}
	ip := net.ParseIP(svc.Spec.ClusterIP)
	if ip == nil {
		return fmt.Errorf("kubelet API: Service %s/%s has no ClusterIP (%q): delete it, and gantry makes it again",
			svc.Namespace, svc.Name, svc.Spec.ClusterIP)
	}
	names := []string{ServiceName + "." + svc.Namespace + ".svc", ServiceName + "." + svc.Namespace + ".svc.cluster.local"}
	if s.ca, err = withServing(kp, s.opts.PKIDir, s.opts.BindAddress, []net.IP{ip}, names); err != nil {
		return err
	}
	s.service = ip
	s.opts.Logger.Info("kubelet API at its shared Service", "service", svc.Namespace+"/"+svc.Name,
		"address", net.JoinHostPort(ip.String(), fmt.Sprint(ServicePort)), "secret", svc.Namespace+"/"+CASecret)
	return nil
}

// sharedCA reads the CA's Secret, making it when there is none.
func (s *Server) sharedCA(ctx context.Context) (*pki.KeyPair, error) {
	ns := s.opts.Shared.Namespace
	secrets := s.host.CoreV1().Secrets(ns)
	secret, err := secrets.Get(ctx, CASecret, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		secret, err = s.createCA(ctx)
		if apierrors.IsAlreadyExists(err) {
			// Another replica made it meanwhile: its CA is everyone's.
			secret, err = secrets.Get(ctx, CASecret, metav1.GetOptions{})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kubelet API: the replicas' CA in Secret %s/%s: %w", ns, CASecret, err)
	}
	kp, err := pki.Parse(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey])
	if err == nil && !kp.Cert.IsCA {
		err = fmt.Errorf("its certificate %q is no CA", kp.Cert.Subject.CommonName)
	}
	if err != nil {
		return nil, fmt.Errorf("kubelet API: Secret %s/%s holds no CA (%v): delete it, and gantry makes another "+
			"(virtual clusters' control planes then restart with it)", ns, CASecret, err)
	}
	return kp, nil
}

func (s *Server) createCA(ctx context.Context) (*corev1.Secret, error) {
	kp, err := pki.NewCA(caCommonName)
	if err != nil {
		return nil, err
	}
	key, err := kp.KeyPEM()
	if err != nil {
		return nil, err
	}
	return s.host.CoreV1().Secrets(s.opts.Shared.Namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: CASecret, Namespace: s.opts.Shared.Namespace, Labels: labels()},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: kp.CertPEM(), corev1.TLSPrivateKeyKey: key},
	}, metav1.CreateOptions{})
}

func labels() map[string]string {
	return map[string]string{"app.kubernetes.io/managed-by": "gantry", "app.kubernetes.io/component": "kubelet-api"}
}

// servicePorts are the Service's: one, named as the EndpointSlice's port.
func servicePorts() []corev1.ServicePort {
	return []corev1.ServicePort{{Name: "kubelet", Protocol: corev1.ProtocolTCP, Port: ServicePort, TargetPort: intstr.FromInt32(ServicePort)}}
}

// sharedService reads the Service, making it (or setting its port and
// taking any selector away) as every replica wants it. Its ClusterIP never
// changes: control planes' virtual Nodes carry it.
func (s *Server) sharedService(ctx context.Context) (*corev1.Service, error) {
	ns := s.opts.Shared.Namespace
	services := s.host.CoreV1().Services(ns)
	svc, err := services.Get(ctx, ServiceName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		svc, err = services.Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: ServiceName, Namespace: ns, Labels: labels()},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: servicePorts()},
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			svc, err = services.Get(ctx, ServiceName, metav1.GetOptions{})
		}
	}
	if err == nil && (svc.Spec.Selector != nil || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != ServicePort || svc.Spec.Ports[0].Name != "kubelet") {
		svc.Spec.Selector, svc.Spec.Ports = nil, servicePorts()
		svc, err = services.Update(ctx, svc, metav1.UpdateOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("kubelet API: Service %s/%s: %w", ns, ServiceName, err)
	}
	return svc, nil
}

// Advertise points the shared Service at this replica, and keeps it so
// until ctx ends: the leader's (a runnable that needs leader election).
func (s *Server) Advertise(ctx context.Context) error {
	if s.opts.Shared == nil {
		<-ctx.Done()
		return nil
	}
	ip := net.ParseIP(s.opts.BindAddress)
	if ip.IsLoopback() || ip.IsUnspecified() {
		s.opts.Logger.Error(nil, "the kubelet API listens on "+s.opts.BindAddress+", which the host's pods cannot reach: "+
			"logs, exec and port-forward of virtual clusters' pods fail (give gantry up --kubelet-address, or GANTRY_POD_IP in a pod)")
		<-ctx.Done()
		return nil
	}
	for {
		if err := s.advertise(ctx, ip); err != nil && ctx.Err() == nil {
			s.opts.Logger.Error(err, "pointing the kubelet API's Service at this replica; retrying")
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(2 * time.Second):
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(advertiseEvery):
		}
	}
}

// advertise writes the EndpointSlice unless it already names ip and the port.
func (s *Server) advertise(ctx context.Context, ip net.IP) error {
	ns := s.opts.Shared.Namespace
	endpointSlices := s.host.DiscoveryV1().EndpointSlices(ns)
	family := discoveryv1.AddressTypeIPv4
	if ip.To4() == nil {
		family = discoveryv1.AddressTypeIPv6
	}
	endpoints := []discoveryv1.Endpoint{{Addresses: []string{ip.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}}
	ports := []discoveryv1.EndpointPort{{Name: ptr.To("kubelet"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(s.port())}}
	slice, err := endpointSlices.Get(ctx, ServiceName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = endpointSlices.Create(ctx, &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Name: ServiceName, Namespace: ns,
				Labels: map[string]string{discoveryv1.LabelServiceName: ServiceName, discoveryv1.LabelManagedBy: "gantry.dev"}},
			AddressType: family, Endpoints: endpoints, Ports: ports,
		}, metav1.CreateOptions{})
		if err == nil {
			s.opts.Logger.Info("the kubelet API's Service points at this replica", "endpoint", net.JoinHostPort(ip.String(), fmt.Sprint(s.port())))
		}
		return err
	}
	if err != nil {
		return err
	}
	if slice.AddressType == family && slices.EqualFunc(slice.Endpoints, endpoints, sameEndpoint) &&
		slices.EqualFunc(slice.Ports, ports, samePort) {
		return nil
	}
	if slice.AddressType != family {
		// Immutable: made again.
		if err := endpointSlices.Delete(ctx, ServiceName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return s.advertise(ctx, ip)
	}
	slice.Endpoints, slice.Ports = endpoints, ports
	if _, err := endpointSlices.Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		return err
	}
	s.opts.Logger.Info("the kubelet API's Service points at this replica", "endpoint", net.JoinHostPort(ip.String(), fmt.Sprint(s.port())))
	return nil
}

func sameEndpoint(a, b discoveryv1.Endpoint) bool {
	return slices.Equal(a.Addresses, b.Addresses) && ptr.Deref(a.Conditions.Ready, false) == ptr.Deref(b.Conditions.Ready, false)
}

func samePort(a, b discoveryv1.EndpointPort) bool {
	return ptr.Deref(a.Name, "") == ptr.Deref(b.Name, "") && ptr.Deref(a.Port, 0) == ptr.Deref(b.Port, 0) &&
		ptr.Deref(a.Protocol, "") == ptr.Deref(b.Protocol, "")
}
