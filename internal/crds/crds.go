package crds

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/typed/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	crdmanifests "gantry.dev/gantry/config/crd"
)

// FieldManager owns the CRD fields gantry applies.
const FieldManager = "gantry"

// pollInterval is how soon Install tries again after a refused apply or an
// ended watch.
const pollInterval = 100 * time.Millisecond

// manifest is one CRD read from the embedded files.
type manifest struct {
	file string
	crd  *apiextensionsv1.CustomResourceDefinition
	json []byte // sent as is, so no field is lost in a Go round trip
}

// Install applies every embedded CRD with server-side apply (forcing
// ownership, so gantry's version wins over a stale one) and waits until each
// is Established. It returns when they all are, or when ctx is done; the
// caller bounds the wait through ctx.
func Install(ctx context.Context, cfg *rest.Config) error {
	cs, err := clientset.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("crds: client: %w", err)
	}
	return install(ctx, cs.ApiextensionsV1().CustomResourceDefinitions(), pollInterval)
}

// Names returns the metadata.name of every embedded CRD, sorted.
func Names() ([]string, error) {
	ms, err := load(crdmanifests.FS)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ms))
	for _, m := range ms {
		names = append(names, m.crd.Name)
	}
	sort.Strings(names)
	return names, nil
}

func install(ctx context.Context, client apiextensionsclient.CustomResourceDefinitionInterface, interval time.Duration) error {
	ms, err := load(crdmanifests.FS)
	if err != nil {
		return err
	}
	// Apply all first, then wait for all at once, so the API server
	// establishes them in parallel. (Applying them in parallel too measured
	// no faster: on a first start the API server is busy with its own
	// bootstrap.)
	for _, m := range ms {
		if err := apply(ctx, client, m, interval); err != nil {
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, m := range ms {
		g.Go(func() error { return waitEstablished(gctx, client, m.crd.Name, interval) })
	}
	return g.Wait()
}

// apply applies one CRD. The API server may restart just after its first
// /readyz (its process is supervised and comes back within seconds): a
// refused connection is retried until ctx ends; a refused CRD is not.
func apply(ctx context.Context, client apiextensionsclient.CustomResourceDefinitionInterface, m manifest, interval time.Duration) error {
	force := true
	var last error
	err := wait.PollUntilContextCancel(ctx, interval, true, func(ctx context.Context) (bool, error) {
		_, err := client.Patch(ctx, m.crd.Name, types.ApplyPatchType, m.json,
			metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
		if err != nil && (utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err)) {
			last = err
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		if last != nil && ctx.Err() != nil {
			err = last
		}
		return fmt.Errorf("crds: apply CRD %s: %w", m.crd.Name, err)
	}
	return nil
}

// waitEstablished watches the CRD until its Established condition is True.
// It fails at once if the API server rejected the CRD's names, since that
// never resolves by waiting. A watch, not a poll: a CRD of gantry's carries
// its whole schema (up to a few hundred KiB), and polling six of them
// loaded the API server in the very second it bootstraps. A watch that ends
// is opened again after interval.
func waitEstablished(ctx context.Context, client apiextensionsclient.CustomResourceDefinitionInterface, name string, interval time.Duration) error {
	last := "not read yet"
	for {
		// Without a resourceVersion the watch begins with the CRD as it is.
		w, err := client.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
		if err != nil {
			// Transient API errors are retried until ctx is done.
			last = err.Error()
		} else {
			done, err := watchEstablished(ctx, w, name, &last)
			w.Stop()
			if done || err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("crds: CRD %s not established (%s): %w", name, last, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// watchEstablished reads w until the CRD is Established (done), its names
// are rejected (err), or the watch or ctx ends (neither).
func watchEstablished(ctx context.Context, w watch.Interface, name string, last *string) (done bool, err error) {
	for {
		var ev watch.Event
		var open bool
		select {
		case <-ctx.Done():
			return false, nil
		case ev, open = <-w.ResultChan():
		}
		if !open {
			return false, nil
		}
		obj, ok := ev.Object.(*apiextensionsv1.CustomResourceDefinition)
		if !ok {
			continue // a watch error: the watch ends and is opened again
		}
		established, namesRejected, msg := state(obj)
		if established {
			return true, nil
		}
		if namesRejected {
			return false, fmt.Errorf("crds: CRD %s: names not accepted: %s", name, msg)
		}
		*last = msg
	}
}

// state reads the conditions that decide whether a CRD is usable.
func state(obj *apiextensionsv1.CustomResourceDefinition) (established, namesRejected bool, msg string) {
	msg = "no Established condition yet"
	for _, c := range obj.Status.Conditions {
		switch c.Type {
		case apiextensionsv1.Established:
			if c.Status == apiextensionsv1.ConditionTrue {
				return true, false, ""
			}
			msg = fmt.Sprintf("Established=%s: %s: %s", c.Status, c.Reason, c.Message)
		case apiextensionsv1.NamesAccepted:
			if c.Status == apiextensionsv1.ConditionFalse {
				namesRejected = true
				msg = fmt.Sprintf("%s: %s", c.Reason, c.Message)
			}
		}
	}
	return false, namesRejected, msg
}

// load reads every CRD in fsys's top-level *.yaml files, allowing several
// YAML documents per file. Unknown fields are errors so that a manifest that
// does not match the CRD schema is caught here rather than silently pruned.
func load(fsys fs.FS) ([]manifest, error) {
	files, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("crds: list manifests: %w", err)
	}
	var out []manifest
	for _, file := range files {
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("crds: read %s: %w", file, err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("crds: read %s: %w", file, err)
			}
			if isBlank(doc) {
				continue
			}
			m, err := parse(path.Base(file), doc)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("crds: no CRD manifests embedded")
	}
	return out, nil
}

func parse(file string, doc []byte) (manifest, error) {
	var c apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(doc, &c); err != nil {
		return manifest{}, fmt.Errorf("crds: parse %s: %w", file, err)
	}
	gvk := apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition")
	if c.APIVersion != gvk.GroupVersion().String() || c.Kind != gvk.Kind {
		return manifest{}, fmt.Errorf("crds: %s: want %s, got apiVersion %q kind %q", file, gvk, c.APIVersion, c.Kind)
	}
	if c.Name == "" {
		return manifest{}, fmt.Errorf("crds: %s: CRD has no metadata.name", file)
	}
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return manifest{}, fmt.Errorf("crds: convert %s: %w", file, err)
	}
	return manifest{file: file, crd: &c, json: j}, nil
}

// isBlank reports whether doc holds only whitespace and comments, as
// around a leading "---".
func isBlank(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}
