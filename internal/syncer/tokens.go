package syncer

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const (
	// tokenLifetime is what the syncer asks tokens for: a kubelet's default. Tokens
	// are bound to the virtual pod, so they die with it whatever their lifetime.
	tokenLifetime = time.Hour
	// annotationTokenRenew says when the syncer renews the tokens: at 80% of their
	// life, as a kubelet does (nothing on the host would renew them).
	annotationTokenRenew = "gantry.dev/token-renew-at"
)

// ensureTokenSecret keeps the host Secret that holds vPod's service-account tokens:
// requested from the virtual API server (TokenRequest for the pod's service account,
// bound to the pod, for the audiences the projection asks or the virtual API server's
// own), renewed before they expire. It returns when to come back to renew them.
func (s *syncer) ensureTokenSecret(ctx context.Context, vPod *corev1.Pod, name string) (time.Duration, error) {
	sources := tokenSources(vPod)
	if len(sources) == 0 {
		return 0, nil
	}
	current, err := getOrNil(s.hSecretLister.Secrets(s.opts.HostNamespace).Get(name))
	if err != nil {
		return 0, err
	}
	if err := s.secrets.checkOrigin(current, vPod.Namespace+"/"+vPod.Name); err != nil {
		return 0, err // another pod's tokens: no token is asked for, none is overwritten
	}
	if current != nil && current.Annotations[AnnotationUID] == string(vPod.UID) && hasKeys(current, sources) {
		if renew, err := time.Parse(time.RFC3339, current.Annotations[annotationTokenRenew]); err == nil && time.Until(renew) > 0 {
			return time.Until(renew), nil
		}
	}

	data := map[string][]byte{}
	renew := time.Now().Add(tokenLifetime)
	for _, src := range sources {
		req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: ptr.To(int64(tokenLifetime / time.Second)),
			BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: vPod.Name, UID: vPod.UID},
		}}
		if src.audience != "" {
			req.Spec.Audiences = []string{src.audience}
		}
		tok, err := s.virtual.CoreV1().ServiceAccounts(vPod.Namespace).CreateToken(ctx, serviceAccountOf(vPod), req, metav1.CreateOptions{})
		if err != nil {
			return 0, fmt.Errorf("requesting a token for virtual pod %s/%s (service account %s): %w",
				vPod.Namespace, vPod.Name, serviceAccountOf(vPod), err)
		}
		data[src.key] = []byte(tok.Status.Token)
		issued := time.Now()
		if at := issued.Add(tok.Status.ExpirationTimestamp.Sub(issued) * 8 / 10); at.Before(renew) {
			renew = at
		}
	}
	desired := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: s.opts.HostNamespace,
			Labels:    s.t.markers(vPod.Namespace),
			Annotations: map[string]string{
				AnnotationName:       vPod.Name,
				AnnotationNamespace:  vPod.Namespace,
				AnnotationUID:        string(vPod.UID),
				AnnotationPodToken:   "true",
				annotationTokenRenew: renew.UTC().Format(time.RFC3339),
			},
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
	_, err = s.secrets.apply(ctx, current, desired, func(existing, desired *corev1.Secret) bool {
		existing.Labels, existing.Annotations, existing.Data = desired.Labels, desired.Annotations, desired.Data
		return true
	})
	return time.Until(renew), err
}

func hasKeys(sec *corev1.Secret, sources []tokenSource) bool {
	for _, src := range sources {
		if len(sec.Data[src.key]) == 0 {
			return false
		}
	}
	return true
}

// deleteTokenSecret deletes the token Secret of virtual pod key (whose host
// name is hostPodName), if there is one.
func (s *syncer) deleteTokenSecret(ctx context.Context, key, hostPodName string) error {
	sec, err := getOrNil(s.hSecretLister.Secrets(s.opts.HostNamespace).Get(tokenSecretName(hostPodName)))
	if err != nil {
		return err
	}
	if sec = s.secrets.copyOf(sec, key); sec == nil {
		return nil // none, or another pod's whose host name collides
	}
	return s.secrets.delete(ctx, sec, metav1.DeleteOptions{})
}
