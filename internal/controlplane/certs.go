package controlplane

import (
	"fmt"
	"net"
	"net/netip"

	"gantry.dev/gantry/internal/pki"
)

// Identities of the components; the bootstrap RBAC of kube-apiserver grants these users
// what each component needs, as in a kubeadm cluster.
const (
	adminUser             = "gantry-admin"
	controllerManagerUser = "system:kube-controller-manager"
	schedulerUser         = "system:kube-scheduler"
	frontProxyUser        = "front-proxy-client"
	// kubeletClientUser is kube-apiserver's identity at the kubelets; system:masters
	// lets every kubelet's webhook authorizer allow it logs, exec and port-forward.
	kubeletClientUser = "kube-apiserver-kubelet-client"
)

// credentials are the control plane's keys and certificates, loaded or made once.
type credentials struct {
	ca, frontProxyCA                         *pki.KeyPair
	serving, admin, kcm, scheduler, fpClient *pki.KeyPair
	kcmServing, schedulerServing             *pki.KeyPair
	kubeletClient                            *pki.KeyPair // only with Options.Kubelets
}

func (cp *ControlPlane) loadCredentials() (*credentials, error) {
	dir := cp.pkiDir()
	var c credentials
	var err error
	if c.ca, err = pki.LoadOrCreateCA(dir, "ca", "gantry-ca-"+cp.opts.Name); err != nil {
		return nil, err
	}
	// A separate CA for the aggregation layer, as Kubernetes requires: clients it signs
	// are trusted to assert any identity in request headers.
	if c.frontProxyCA, err = pki.LoadOrCreateCA(dir, "front-proxy-ca", "gantry-front-proxy-ca-"+cp.opts.Name); err != nil {
		return nil, err
	}
	if _, err = pki.LoadOrCreateKey(dir, "sa"); err != nil {
		return nil, err
	}
	serviceIP, err := firstIP(cp.opts.ServiceCIDR)
	if err != nil {
		return nil, err
	}
	serving := pki.CertSpec{
		CommonName: "kube-apiserver",
		DNSNames:   []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1"), serviceIP},
		Server:     true,
	}
	if bind := net.ParseIP(cp.opts.BindAddress); !bind.IsLoopback() && !bind.IsUnspecified() {
		serving.IPs = append(serving.IPs, bind)
	}
	for _, san := range cp.opts.ExtraSANs {
		if ip := net.ParseIP(san); ip != nil {
			serving.IPs = append(serving.IPs, ip)
		} else {
			serving.DNSNames = append(serving.DNSNames, san)
		}
	}
	issue := []struct {
		into *(*pki.KeyPair)
		ca   *pki.KeyPair
		name string
		spec pki.CertSpec
	}{
		{&c.serving, c.ca, "apiserver", serving},
		{&c.admin, c.ca, "admin", pki.CertSpec{CommonName: adminUser, Organization: []string{"system:masters"}, Client: true}},
		{&c.kcm, c.ca, "controller-manager", pki.CertSpec{CommonName: controllerManagerUser, Client: true}},
		{&c.scheduler, c.ca, "scheduler", pki.CertSpec{CommonName: schedulerUser, Client: true}},
		{&c.fpClient, c.frontProxyCA, "front-proxy-client", pki.CertSpec{CommonName: frontProxyUser, Client: true}},
		{&c.kcmServing, c.ca, "kube-controller-manager-serving", loopbackServing("kube-controller-manager")},
		{&c.schedulerServing, c.ca, "kube-scheduler-serving", loopbackServing("kube-scheduler")},
	}
	if cp.opts.Kubelets {
		issue = append(issue, struct {
			into *(*pki.KeyPair)
			ca   *pki.KeyPair
			name string
			spec pki.CertSpec
		}{&c.kubeletClient, c.ca, "apiserver-kubelet-client",
			pki.CertSpec{CommonName: kubeletClientUser, Organization: []string{"system:masters"}, Client: true}})
	}
	for _, i := range issue {
		kp, err := i.ca.LoadOrIssue(dir, i.name, i.spec)
		if err != nil {
			return nil, fmt.Errorf("control plane %s: %w", cp.opts.Name, err)
		}
		*i.into = kp
	}
	return &c, nil
}

// firstIP returns the first usable address of a CIDR: the ClusterIP that
// kube-apiserver gives the kubernetes Service.
func firstIP(cidr string) (net.IP, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("service CIDR %q: %w", cidr, err)
	}
	return net.IP(p.Masked().Addr().Next().AsSlice()), nil
}

func loopbackServing(cn string) pki.CertSpec {
	return pki.CertSpec{CommonName: cn, DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true}
}
