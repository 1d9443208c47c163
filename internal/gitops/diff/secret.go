package diff

import (
	"encoding/base64"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func isSecret(gk schema.GroupKind) bool {
	return gk.Group == "" && gk.Kind == "Secret"
}

// foldStringData moves a Secret's stringData into data, base64-encoded, as the
// API server does on write (stringData wins over data): live never has
// stringData, so desired must be compared in the same form.
func foldStringData(obj map[string]any) {
	sd, ok := obj["stringData"].(map[string]any)
	delete(obj, "stringData")
	if !ok || len(sd) == 0 {
		return
	}
	data, _ := obj["data"].(map[string]any)
	if data == nil {
		data = make(map[string]any, len(sd))
	}
	for k, v := range sd {
		if s, ok := v.(string); ok {
			data[k] = base64.StdEncoding.EncodeToString([]byte(s))
		}
	}
	obj["data"] = data
}

// maskSecretData replaces the values of a Secret's data with runs of '+' in
// every object given, as Argo CD does, so that a diff shows which keys change
// without showing a secret: equal values get the same mask, different values
// masks of different lengths.
func maskSecretData(objs ...map[string]any) {
	keys := map[string]bool{}
	for _, o := range objs {
		data, _ := o["data"].(map[string]any)
		for k := range data {
			keys[k] = true
		}
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		masks := map[any]string{}
		for _, o := range objs {
			data, _ := o["data"].(map[string]any)
			v, ok := data[k]
			if !ok {
				continue
			}
			if !isScalar(v) {
				v = "" // not a valid Secret value; mask it all the same
			}
			mask, seen := masks[v]
			if !seen {
				mask = strings.Repeat("+", 8+len(masks))
				masks[v] = mask
			}
			data[k] = mask
		}
	}
}

// MaskSecrets returns copies of desired and live (either may be nil) in which a
// Secret's values are masked as in Diff's output, so that callers can show the
// objects themselves (Argo CD's managed-resources targetState and liveState)
// without showing a secret. Other kinds come back as copies, unmasked.
func MaskSecrets(desired, live *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured) {
	var d, l *unstructured.Unstructured
	var objs []map[string]any
	if desired != nil {
		d = desired.DeepCopy()
		if isSecret(d.GroupVersionKind().GroupKind()) {
			foldStringData(d.Object)
			objs = append(objs, d.Object)
		}
	}
	if live != nil {
		l = live.DeepCopy()
		if isSecret(l.GroupVersionKind().GroupKind()) {
			objs = append(objs, l.Object)
		}
	}
	if len(objs) > 0 {
		maskSecretData(objs...)
		for _, o := range []*unstructured.Unstructured{d, l} {
			if o == nil {
				continue
			}
			if ann := o.GetAnnotations(); ann["kubectl.kubernetes.io/last-applied-configuration"] != "" {
				ann["kubectl.kubernetes.io/last-applied-configuration"] = "++++++++"
				o.SetAnnotations(ann)
			}
		}
	}
	return d, l
}
