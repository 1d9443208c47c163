package syncer

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// cleanupOrder is what Cleanup deletes, pods first so that what they use is released
// (a claim stays until no pod uses it).
var cleanupOrder = []string{"pods", "services", "endpoints", "persistentvolumeclaims", "configmaps", "secrets", "serviceaccounts"}

// Cleanup deletes every host object the syncer of vcluster made in hostNamespace
// (selected by its labels, and each checked again before it is deleted) and waits
// until they are gone or ctx ends. Nothing without the labels is touched. Stop Run
// first: a running syncer would make them again.
func Cleanup(ctx context.Context, host *rest.Config, hostNamespace, vcluster string) error {
	if hostNamespace == "" || vcluster == "" {
		return errors.New("syncer cleanup: host namespace and vcluster are both required")
	}
	cfg := rest.CopyConfig(host)
	if cfg.QPS == 0 {
		// client-go's default 5 requests/s would make each cleanup take seconds.
		cfg.QPS, cfg.Burst = 50, 100
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("syncer cleanup: %w", err)
	}
	selector := labels.Set{LabelManagedBy: ManagedBySyncer, LabelVCluster: vcluster}.String()
	resource := func(r string) dynamic.ResourceInterface {
		return client.Resource(schema.GroupVersionResource{Version: "v1", Resource: r}).Namespace(hostNamespace)
	}
	for _, r := range cleanupOrder {
		list, err := resource(r).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return fmt.Errorf("syncer cleanup: listing %s in %s: %w", r, hostNamespace, err)
		}
		for _, obj := range list.Items {
			if !owned(&obj, vcluster) {
				continue // cannot happen with the selector; the guard is cheap
			}
			uid := obj.GetUID()
			err := resource(r).Delete(ctx, obj.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("syncer cleanup: deleting %s %s/%s: %w", r, hostNamespace, obj.GetName(), err)
			}
		}
	}
	for _, r := range cleanupOrder {
		if err := waitGone(ctx, resource(r), selector); err != nil {
			return fmt.Errorf("syncer cleanup: waiting for %s in %s to go: %w", r, hostNamespace, err)
		}
	}
	return nil
}

// waitGone waits, by watching, until nothing matches selector.
func waitGone(ctx context.Context, res dynamic.ResourceInterface, selector string) error {
	for {
		list, err := res.List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		if len(list.Items) == 0 {
			return nil
		}
		w, err := res.Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: list.GetResourceVersion()})
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			w.Stop()
			return ctx.Err()
		case <-w.ResultChan():
			// Something changed (most likely a deletion): count again.
			w.Stop()
		}
	}
}
