package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"gantry.dev/gantry/api/gitops/v1alpha1"
)

// editKustomization applies an Application's kustomize block to the content
// of its kustomization file, with the effect of the `kustomize edit`
// commands Argo CD runs: set namePrefix, nameSuffix, image, replicas and
// namespace; add label and annotation (refusing to replace a key the file
// already has unless forced); append patches and components. The file is
// edited as a generic map so that every field gantry does not touch is kept
// as written. Images and label values may use Argo CD's build variables
// (buildEnv). changed is false when the block asks for nothing.
func editKustomization(data []byte, file string, o *v1alpha1.ApplicationSourceKustomize, env map[string]string) (out []byte, changed bool, err error) {
	if o.NamePrefix == "" && o.NameSuffix == "" && o.Namespace == "" && len(o.Images) == 0 &&
		len(o.Replicas) == 0 && len(o.CommonLabels) == 0 && len(o.CommonAnnotations) == 0 &&
		len(o.Patches) == 0 && len(o.Components) == 0 {
		return data, false, nil
	}
	var k map[string]any
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, false, fmt.Errorf("%s: %w", file, err)
	}
	if k == nil {
		k = map[string]any{}
	}
	if o.NamePrefix != "" {
		k["namePrefix"] = o.NamePrefix
	}
	if o.NameSuffix != "" {
		k["nameSuffix"] = o.NameSuffix
	}
	if len(o.Images) > 0 {
		images := make([]string, len(o.Images))
		for i, img := range o.Images {
			images[i] = envsubst(env, img)
		}
		if err := setImages(k, images); err != nil {
			return nil, false, err
		}
	}
	if len(o.Replicas) > 0 {
		if err := setReplicas(k, o.Replicas); err != nil {
			return nil, false, err
		}
	}
	labels := make(map[string]string, len(o.CommonLabels))
	for key, v := range o.CommonLabels {
		labels[key] = envsubst(env, v)
	}
	if o.LabelWithoutSelector {
		if err := addLabelsWithoutSelector(k, labels, o.LabelIncludeTemplates, o.ForceCommonLabels, file); err != nil {
			return nil, false, err
		}
	} else if err := addMetadata(k, "commonLabels", labels, o.ForceCommonLabels, "label", "forceCommonLabels", file); err != nil {
		return nil, false, err
	}
	annotations := o.CommonAnnotations
	if o.CommonAnnotationsEnvsubst {
		annotations = make(map[string]string, len(o.CommonAnnotations))
		for key, v := range o.CommonAnnotations {
			annotations[key] = envsubst(env, v)
		}
	}
	if err := addMetadata(k, "commonAnnotations", annotations, o.ForceCommonAnnotations, "annotation", "forceCommonAnnotations", file); err != nil {
		return nil, false, err
	}
	if o.Namespace != "" {
		k["namespace"] = o.Namespace
	}
	if len(o.Patches) > 0 {
		if err := addPatches(k, o.Patches, file); err != nil {
			return nil, false, err
		}
	}
	for _, c := range o.Components {
		components := stringsOf(k["components"])
		if !slices.Contains(components, c) {
			k["components"] = append(anyList(k["components"]), c)
		}
	}
	out, err = yaml.Marshal(k)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", file, err)
	}
	return out, true, nil
}

// setImages merges image overrides into the images list as `kustomize edit
// set image` does: an override of a name already listed replaces the parts
// it sets (a tag replaces a digest and the other way round); the list ends
// up sorted by name.
func setImages(k map[string]any, args []string) error {
	byName := map[string]types.Image{}
	for _, m := range listOf(k["images"]) {
		var img types.Image
		if err := convert(m, &img); err != nil {
			return fmt.Errorf("kustomize.images: the kustomization's images: %w", err)
		}
		byName[img.Name] = img
	}
	for _, arg := range args {
		img, err := parseImageOverride(arg)
		if err != nil {
			return fmt.Errorf("kustomize.images: %q: %w", arg, err)
		}
		old, ok := byName[img.Name]
		if !ok {
			byName[img.Name] = img
			continue
		}
		if img.NewName != "" {
			old.NewName = img.NewName
		}
		if img.NewTag != "" {
			old.NewTag, old.Digest = img.NewTag, ""
		}
		if img.Digest != "" {
			old.Digest, old.NewTag = img.Digest, ""
		}
		byName[img.Name] = old
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	images := make([]any, 0, len(names))
	for _, name := range names {
		var m map[string]any
		if err := convert(byName[name], &m); err != nil {
			return err
		}
		images = append(images, m)
	}
	k["images"] = images
	return nil
}

var imageTagRE = regexp.MustCompile(`^(.*):([a-zA-Z0-9._-]*)$`)

var errImageSyntax = errors.New("use name=newName:tag, name=newName@digest, name=newName, name:tag or name@digest")

// parseImageOverride parses the argument syntax of `kustomize edit set
// image`.
func parseImageOverride(arg string) (types.Image, error) {
	name, rest, hasNewName := strings.Cut(arg, "=")
	if !hasNewName {
		rest = arg
	}
	var img types.Image
	switch n, digest, ok := strings.Cut(rest, "@"); {
	case ok:
		img.NewName, img.Digest = n, digest
	case imageTagRE.MatchString(rest):
		m := imageTagRE.FindStringSubmatch(rest)
		img.NewName, img.NewTag = m[1], m[2]
	case hasNewName && rest != "":
		img.NewName = rest
	default:
		return img, errImageSyntax
	}
	if hasNewName {
		img.Name = name
	} else {
		img.Name, img.NewName = img.NewName, ""
	}
	if img.Name == "" {
		return img, errImageSyntax
	}
	return img, nil
}

// setReplicas sets replica counts by resource name, as `kustomize edit set
// replicas` does.
func setReplicas(k map[string]any, replicas []v1alpha1.KustomizeReplica) error {
	list := listOf(k["replicas"])
	for _, r := range replicas {
		count, err := replicaCount(r.Count)
		if err != nil {
			return fmt.Errorf("kustomize.replicas: %s: %w", r.Name, err)
		}
		i := slices.IndexFunc(list, func(m map[string]any) bool { return m["name"] == r.Name })
		if i >= 0 {
			list[i]["count"] = count
		} else {
			list = append(list, map[string]any{"name": r.Name, "count": count})
		}
	}
	out := make([]any, len(list))
	for i, m := range list {
		out[i] = m
	}
	k["replicas"] = out
	return nil
}

func replicaCount(c intstr.IntOrString) (int64, error) {
	if c.Type == intstr.Int {
		return int64(c.IntVal), nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(c.StrVal), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("count %q is not a number", c.StrVal)
	}
	return n, nil
}

// addMetadata adds labels or annotations as `kustomize edit add label
// [--force]` does: without force, a key the kustomization already sets is an
// error rather than a silent override.
func addMetadata(k map[string]any, field string, add map[string]string, force bool, what, forceField, file string) error {
	if len(add) == 0 {
		return nil
	}
	m, _ := k[field].(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	keys := make([]string, 0, len(add))
	for key := range add {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if _, exists := m[key]; exists && !force {
			return fmt.Errorf("kustomize.%s: %s %q is already set in %s; set kustomize.%s to override it", field, what, key, file, forceField)
		}
		m[key] = add[key]
	}
	k[field] = m
	return nil
}

// addLabelsWithoutSelector adds labels as `kustomize edit add label
// --without-selector [--include-templates]` does: to the entry of the
// kustomization's labels list that has includeSelectors false and the same
// includeTemplates, or a new one; a key the entry has already is refused
// unless forced.
func addLabelsWithoutSelector(k map[string]any, add map[string]string, templates, force bool, file string) error {
	if len(add) == 0 {
		return nil
	}
	existing, ok := k["labels"]
	if ok && existing != nil {
		if _, isList := existing.([]any); !isList {
			return fmt.Errorf("%s: labels is not a list, so kustomize.commonLabels cannot be added to it", file)
		}
	}
	list := anyList(existing)
	var entry map[string]any
	for _, e := range list {
		m, _ := e.(map[string]any)
		if m == nil {
			continue
		}
		sel, _ := m["includeSelectors"].(bool)
		tmpl, _ := m["includeTemplates"].(bool)
		if !sel && tmpl == templates {
			entry = m
			break
		}
	}
	if entry == nil {
		entry = map[string]any{"pairs": map[string]any{}}
		if templates {
			entry["includeTemplates"] = true
		}
		list = append(list, entry)
	}
	pairs, _ := entry["pairs"].(map[string]any)
	if pairs == nil {
		pairs = map[string]any{}
	}
	keys := make([]string, 0, len(add))
	for key := range add {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if _, exists := pairs[key]; exists && !force {
			return fmt.Errorf("kustomize.commonLabels: label %q is already set in %s; set kustomize.forceCommonLabels to override it", key, file)
		}
		pairs[key] = add[key]
	}
	entry["pairs"] = pairs
	k["labels"] = list
	return nil
}

// addPatches appends the Application's patches to the kustomization's.
func addPatches(k map[string]any, patches []v1alpha1.KustomizePatch, file string) error {
	existing, ok := k["patches"]
	if ok && existing != nil {
		if _, isList := existing.([]any); !isList {
			return fmt.Errorf("%s: patches is not a list, so kustomize.patches cannot be added to it", file)
		}
	}
	list := anyList(existing)
	for _, p := range patches {
		var m map[string]any
		if err := convert(p, &m); err != nil {
			return fmt.Errorf("kustomize.patches: %w", err)
		}
		list = append(list, m)
	}
	k["patches"] = list
	return nil
}

func anyList(v any) []any {
	l, _ := v.([]any)
	return l
}

// convert copies in into out through JSON, between typed structs and the
// generic maps of the kustomization file.
func convert(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
