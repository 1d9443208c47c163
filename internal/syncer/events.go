package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// Events the host records about synced objects (the scheduler's "Scheduled", a
// kubelet's "Pulled", a provisioner's failures...) are copied into the virtual
// cluster, about the virtual object and under a name derived from the host event's,
// so a re-sync updates instead of duplicating. Virtual events expire there by the
// API server's event TTL like any other.

// eventSource finds, for one involved-object kind, the host object and its virtual
// original.
type eventSource struct {
	host    func(name string) (metav1.Object, error)
	virtual func(namespace, name string) (metav1.Object, error)
}

func (s *syncer) setupEvents() *controller {
	c := newController(s.log, "events", 1, s.reconcileEvent)
	s.handle(s.hef.Core().V1().Events().Informer(), c.on(objectKey))
	hns := s.opts.HostNamespace
	core, vcore := s.hf.Core().V1(), s.vf.Core().V1()
	s.eventSources = map[string]eventSource{}
	add := func(kind, syncKind string, src eventSource) {
		if s.opts.syncs(syncKind) {
			s.eventSources[kind] = src
		}
	}
	add("Pod", KindPods, eventSource{
		host:    func(n string) (metav1.Object, error) { return core.Pods().Lister().Pods(hns).Get(n) },
		virtual: func(ns, n string) (metav1.Object, error) { return vcore.Pods().Lister().Pods(ns).Get(n) }})
	add("Service", KindServices, eventSource{
		host:    func(n string) (metav1.Object, error) { return core.Services().Lister().Services(hns).Get(n) },
		virtual: func(ns, n string) (metav1.Object, error) { return vcore.Services().Lister().Services(ns).Get(n) }})
	add("PersistentVolumeClaim", KindPersistentVolumeClaims, eventSource{
		host: func(n string) (metav1.Object, error) {
			return core.PersistentVolumeClaims().Lister().PersistentVolumeClaims(hns).Get(n)
		},
		virtual: func(ns, n string) (metav1.Object, error) {
			return vcore.PersistentVolumeClaims().Lister().PersistentVolumeClaims(ns).Get(n)
		}})
	add("ConfigMap", KindConfigMaps, eventSource{
		host:    func(n string) (metav1.Object, error) { return core.ConfigMaps().Lister().ConfigMaps(hns).Get(n) },
		virtual: func(ns, n string) (metav1.Object, error) { return vcore.ConfigMaps().Lister().ConfigMaps(ns).Get(n) }})
	add("Secret", KindSecrets, eventSource{
		host:    func(n string) (metav1.Object, error) { return core.Secrets().Lister().Secrets(hns).Get(n) },
		virtual: func(ns, n string) (metav1.Object, error) { return vcore.Secrets().Lister().Secrets(ns).Get(n) }})
	return c
}

func (s *syncer) reconcileEvent(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	ev, err := getOrNil(s.hef.Core().V1().Events().Lister().Events(ns).Get(name))
	if err != nil || ev == nil {
		return 0, err
	}
	ref := ev.InvolvedObject
	src, ok := s.eventSources[ref.Kind]
	if !ok || ref.Namespace != s.opts.HostNamespace {
		return 0, nil
	}
	hObj, err := src.host(ref.Name)
	if err != nil {
		return 0, ignoreNotFound(err) // not one of the syncer's objects
	}
	vKey, ok := virtualKey(hObj)
	if !ok {
		return 0, nil
	}
	vNs, vName, _ := cache.SplitMetaNamespaceKey(vKey)
	vObj, err := src.virtual(vNs, vName)
	if err != nil || string(vObj.GetUID()) != hObj.GetAnnotations()[AnnotationUID] {
		return 0, ignoreNotFound(err) // the virtual object is gone or replaced
	}

	want := ev.DeepCopy()
	want.ObjectMeta = metav1.ObjectMeta{Name: virtualEventName(vName, ev.Name), Namespace: vNs}
	want.InvolvedObject = corev1.ObjectReference{Kind: ref.Kind, APIVersion: ref.APIVersion, Namespace: vNs, Name: vName,
		UID: vObj.GetUID(), FieldPath: ref.FieldPath}
	want.Related = nil // a host object
	want.Message = strings.ReplaceAll(strings.ReplaceAll(ev.Message, ns+"/"+ref.Name, vNs+"/"+vName), ref.Name, vName)

	events := s.virtual.CoreV1().Events(vNs)
	_, err = events.Create(ctx, want, metav1.CreateOptions{FieldManager: fieldManager})
	if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return 0, nil // the namespace, and the object the event is about, are going away
	}
	if !isAlreadyExists(err) {
		return 0, err
	}
	have, err := events.Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	if have.Count == want.Count && have.LastTimestamp.Equal(&want.LastTimestamp) && have.Message == want.Message &&
		(have.Series == nil) == (want.Series == nil) && (want.Series == nil || have.Series.Count == want.Series.Count) {
		return 0, nil
	}
	have.Count, have.LastTimestamp, have.Message, have.Series = want.Count, want.LastTimestamp, want.Message, want.Series
	if _, err := events.Update(ctx, have, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
		return 0, fmt.Errorf("updating virtual event %s/%s: %w", vNs, have.Name, err)
	}
	return 0, nil
}

// virtualEventName is "<virtual object>.<suffix of the host event's name>": event
// names are "<object>.<unique suffix>", and keeping the suffix keeps it unique.
func virtualEventName(vName, hostEvent string) string {
	suffix := hostEvent[strings.LastIndex(hostEvent, ".")+1:]
	if suffix == hostEvent {
		sum := sha256.Sum256([]byte(hostEvent))
		suffix = hex.EncodeToString(sum[:8])
	}
	name := vName + "." + suffix
	if len(name) > 253 {
		sum := sha256.Sum256([]byte(name))
		name = strings.TrimRight(name[:253-17], ".-") + "." + hex.EncodeToString(sum[:8])
	}
	return name
}
