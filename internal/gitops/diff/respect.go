package diff

import (
	"encoding/json"
	"fmt"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// RespectIgnored returns desired with the fields that opts ignores taken from
// live, for Argo CD's RespectIgnoreDifferences sync option: the sync then
// leaves those fields as they are in the cluster instead of applying Git's
// values. Without live (the object is new) desired is returned as it is, as
// in Argo CD.
//
// As Argo CD does, it takes the patch from live without the ignored fields
// (JSON pointers, jq paths) to live, which holds exactly their values, and
// applies it to desired without them. The patch is a strategic merge patch
// for built-in kinds, so that list elements pair by key (a container by name)
// even when Git lists them in another order; a JSON merge patch otherwise.
// Fields owned by opts.ManagedFieldsManagers just leave desired: under
// server-side apply, a field missing from gantry's apply is left alone while
// another manager owns it.
func RespectIgnored(desired, live *unstructured.Unstructured, opts Options) (*unstructured.Unstructured, error) {
	if live == nil || desired == nil {
		return desired, nil
	}
	paths := Options{IgnoreDifferences: opts.IgnoreDifferences, JQPathExpressions: opts.JQPathExpressions}
	liveWithout, err := ignore(deepCopy(live.Object).(map[string]any), paths, nil)
	if err != nil {
		return nil, err
	}
	desiredWithout, err := ignore(deepCopy(desired.Object).(map[string]any), paths, managedBy(live, opts.ManagedFieldsManagers))
	if err != nil {
		return nil, err
	}
	from, err := json.Marshal(liveWithout)
	if err != nil {
		return nil, err
	}
	to, err := json.Marshal(live.Object)
	if err != nil {
		return nil, err
	}
	target, err := json.Marshal(desiredWithout)
	if err != nil {
		return nil, err
	}
	var merged []byte
	if _, info := typeOf(desired.GroupVersionKind()); info.meta != nil {
		patch, err := strategicpatch.CreateTwoWayMergePatchUsingLookupPatchMeta(from, to, info.meta)
		if err == nil {
			merged, err = strategicpatch.StrategicMergePatchUsingLookupPatchMeta(target, patch, info.meta)
		}
		if err != nil {
			return nil, fmt.Errorf("taking ignored fields from live: %w", err)
		}
	} else {
		patch, err := jsonpatch.CreateMergePatch(from, to)
		if err == nil {
			merged, err = jsonpatch.MergePatch(target, patch)
		}
		if err != nil {
			return nil, fmt.Errorf("taking ignored fields from live: %w", err)
		}
	}
	out := &unstructured.Unstructured{}
	if err := out.UnmarshalJSON(merged); err != nil {
		return nil, err
	}
	return out, nil
}
