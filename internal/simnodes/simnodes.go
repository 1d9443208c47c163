// Package simnodes gives a cluster simulated nodes: Node objects that KWOK (run as a
// library in gantry's process) keeps Ready, and whose pods it moves through their
// lifecycle (Pending → Running, with pod IPs) without running any container.
//
// Simulation is deliberate and visible: every node carries the label
// gantry.dev/simulated=true, and gantry says so wherever it shows nodes.
package simnodes

import (
	"context"
	"fmt"
	"io"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	nodeheartbeat "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
	"sigs.k8s.io/kwok/pkg/apis/internalversion"
	kwokconfig "sigs.k8s.io/kwok/pkg/config"
	"sigs.k8s.io/kwok/pkg/kwok/controllers"
	kwoklog "sigs.k8s.io/kwok/pkg/log"
	kwokclient "sigs.k8s.io/kwok/pkg/utils/client"
)

// Labels and annotations on simulated nodes.
const (
	// SimulatedLabel marks a node as simulated, for users and for gantry.
	SimulatedLabel = "gantry.dev/simulated"
	// kwokAnnotation is the annotation KWOK selects the nodes it manages by.
	kwokAnnotation = "kwok.x-k8s.io/node"
	managedByLabel = "app.kubernetes.io/managed-by"
)

// Options configure the simulated nodes.
type Options struct {
	// Kubeconfig is the path of a kubeconfig with rights over nodes and pods.
	Kubeconfig string
	// Count is how many nodes to keep; surplus nodes gantry made earlier are deleted.
	Count int
	// NamePrefix names nodes <prefix>1, <prefix>2, … (default "sim-node-").
	NamePrefix string
	// PodCIDR is where simulated pods get their IPs (default 10.244.0.0/16).
	PodCIDR string
	// Log receives KWOK's log.
	Log io.Writer
}

// NodeName returns the name of the i-th node (from 1).
func (o Options) NodeName(i int) string { return o.NamePrefix + strconv.Itoa(i) }

// Run makes sure the nodes exist and simulates them until ctx ends.
func Run(ctx context.Context, opts Options) error {
	if opts.NamePrefix == "" {
		opts.NamePrefix = "sim-node-"
	}
	if opts.PodCIDR == "" {
		opts.PodCIDR = "10.244.0.0/16"
	}
	clientset, err := kwokclient.NewClientset("", opts.Kubeconfig)
	if err != nil {
		return fmt.Errorf("simulated nodes: %w", err)
	}
	restConfig, err := clientset.ToRESTConfig()
	if err != nil {
		return err
	}
	typed, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return err
	}
	if err := EnsureNodes(ctx, typed, opts); err != nil {
		return err
	}
	ctr, err := newController(clientset, typed, opts)
	if err != nil {
		return fmt.Errorf("simulated nodes: %w", err)
	}
	ctx = kwoklog.NewContext(ctx, kwoklog.NewLogger(opts.Log, kwoklog.LevelWarn))
	if err := ctr.Start(ctx); err != nil {
		return fmt.Errorf("simulated nodes: starting KWOK: %w", err)
	}
	<-ctx.Done()
	return nil
}

func newController(cs kwokclient.Clientset, typed kubernetes.Interface, opts Options) (*controllers.Controller, error) {
	restConfig, err := cs.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	dynamicClient, err := cs.ToDynamicClient()
	if err != nil {
		return nil, err
	}
	mapper, err := cs.ToRESTMapper()
	if err != nil {
		return nil, err
	}
	restClient, err := rest.RESTClientFor(restConfig)
	if err != nil {
		return nil, err
	}
	stages, err := defaultStages()
	if err != nil {
		return nil, err
	}
	return controllers.NewController(controllers.Config{
		Clock:                             clock.RealClock{},
		DynamicClient:                     dynamicClient,
		RESTClient:                        restClient,
		RESTMapper:                        mapper,
		ImpersonatingDynamicClient:        cs.ToImpersonatingDynamicClient(),
		ImpersonatingTypedClient:          cs.ToImpersonatingTypedClient(),
		TypedClient:                       typed,
		ManageNodesWithAnnotationSelector: kwokAnnotation + "=fake",
		CIDR:                              opts.PodCIDR,
		NodeIP:                            "10.0.0.1",
		LocalStages:                       stages,
		// One at a time: KWOK v0.8.0 creates a CIDR's IP pool lazily without a lock
		// (PodController.ipPool: Load, then Store), so the first pods played in
		// parallel could each get a fresh pool and the same first IP.
		PodPlayStageParallelism:   1,
		NodePlayStageParallelism:  4,
		NodeLeaseParallelism:      4,
		NodeLeaseDurationSeconds:  40,
		PodsOnNodeSyncParallelism: 1,
		ID:                        "gantry",
	})
}

// defaultStages are KWOK's stock stages: nodes become Ready at once and renew a lease;
// pods become Ready, complete (Jobs) and are deleted like on a real kubelet.
func defaultStages() (map[internalversion.StageResourceRef][]*internalversion.Stage, error) {
	out := map[internalversion.StageResourceRef][]*internalversion.Stage{}
	for _, raw := range []string{nodefast.DefaultNodeInit, nodeheartbeat.DefaultNodeHeartbeatWithLease,
		podfast.DefaultPodReady, podfast.DefaultPodComplete, podfast.DefaultPodDelete} {
		stage, err := kwokconfig.UnmarshalWithType[*internalversion.Stage](raw)
		if err != nil {
			return nil, fmt.Errorf("parsing KWOK stage: %w", err)
		}
		out[stage.Spec.ResourceRef] = append(out[stage.Spec.ResourceRef], stage)
	}
	return out, nil
}

// EnsureNodes creates the missing nodes and deletes surplus ones that gantry made.
func EnsureNodes(ctx context.Context, client kubernetes.Interface, opts Options) error {
	if opts.NamePrefix == "" {
		opts.NamePrefix = "sim-node-"
	}
	want := map[string]bool{}
	for i := 1; i <= opts.Count; i++ {
		name := opts.NodeName(i)
		want[name] = true
		_, err := client.CoreV1().Nodes().Create(ctx, node(name), metav1.CreateOptions{FieldManager: "gantry"})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating simulated node %s: %w", name, err)
		}
	}
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: SimulatedLabel + "=true," + managedByLabel + "=gantry"})
	if err != nil {
		return err
	}
	for _, n := range list.Items {
		if !want[n.Name] {
			if err := client.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting surplus simulated node %s: %w", n.Name, err)
			}
		}
	}
	return nil
}

func node(name string) *corev1.Node {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("128Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				SimulatedLabel:                      "true",
				managedByLabel:                      "gantry",
				"type":                              "kwok",
				"kubernetes.io/hostname":            name,
				"kubernetes.io/os":                  "linux",
				"kubernetes.io/arch":                "amd64",
				"node-role.kubernetes.io/simulated": "",
			},
			Annotations: map[string]string{kwokAnnotation: "fake"},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
}
