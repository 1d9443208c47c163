package argocdtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// module is Argo CD's module path in tools/argocd/go.mod.
const module = "github.com/argoproj/argo-cd/v3"

// fieldManager owns what Start installs.
const fieldManager = "argocdtest"

// repoRoot is gantry's source tree (this file is internal/argocdtest/install.go).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// moduleDir is where the Go module cache holds the Argo CD that tools/argocd
// pins: its manifests are the installation's, at the binary's version.
func moduleDir(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module)
	cmd.Dir = filepath.Join(repoRoot(), "tools", "argocd")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating %s with `go mod download` in tools/argocd: %v: %s", module, err, stderr.String())
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		return "", fmt.Errorf("locating %s: `go mod download -json` answered %s", module, out)
	}
	return m.Dir, nil
}

// manifests reads every object of a (multi-document) YAML file.
func manifests(path string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReaderSize(f, 1<<20))
	var objs []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		u := &unstructured.Unstructured{}
		if err := utilyaml.Unmarshal(doc, &u.Object); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// install applies Argo CD's CRDs and the ConfigMaps and Secrets of its
// install.yaml (into namespace ns), as `kubectl apply --server-side` would,
// and sets the admin password. The workloads, Services and RBAC of
// install.yaml are left out: the components run as processes here.
func install(ctx context.Context, cfg *rest.Config, dir, ns, adminPassword string) error {
	var objs []*unstructured.Unstructured
	for _, f := range []string{"application-crd.yaml", "applicationset-crd.yaml", "appproject-crd.yaml"} {
		o, err := manifests(filepath.Join(dir, "manifests", "crds", f))
		if err != nil {
			return err
		}
		objs = append(objs, o...)
	}
	all, err := manifests(filepath.Join(dir, "manifests", "install.yaml"))
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.GetKind() == "ConfigMap" || o.GetKind() == "Secret" {
			o.SetNamespace(ns)
			objs = append(objs, o)
		}
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	_, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		gvr := schema.GroupVersionResource{Group: gvk.Group, Version: gvk.Version}
		switch gvk.Kind {
		case "CustomResourceDefinition":
			gvr.Resource = "customresourcedefinitions"
		case "ConfigMap":
			gvr.Resource = "configmaps"
		case "Secret":
			gvr.Resource = "secrets"
		}
		data, err := json.Marshal(o.Object)
		if err != nil {
			return err
		}
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		if o.GetNamespace() != "" {
			ri = dyn.Resource(gvr).Namespace(o.GetNamespace())
		}
		force := true
		if _, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: fieldManager, Force: &force}); err != nil {
			return fmt.Errorf("applying %s %s: %w", gvk.Kind, o.GetName(), err)
		}
	}
	// Argo CD's own admin, with a password the test knows (what `argocd
	// account update-password` writes).
	hash, err := bcrypt.GenerateFromPassword([]byte(adminPassword), bcrypt.MinCost)
	if err != nil {
		return err
	}
	patch, _ := json.Marshal(map[string]any{"stringData": map[string]string{
		"admin.password": string(hash), "admin.passwordMtime": time.Now().UTC().Format(time.RFC3339),
	}})
	if _, err := kube.CoreV1().Secrets(ns).Patch(ctx, "argocd-secret", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("setting Argo CD's admin password: %w", err)
	}
	return nil
}

// waitCRDs waits until the API server serves Argo CD's kinds.
func waitCRDs(ctx context.Context, cfg *rest.Config, ns string) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, r := range []string{"applications", "applicationsets", "appprojects"} {
		gvr := schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: r}
		for {
			_, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{Limit: 1})
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("Argo CD's %s are not served: %w", r, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}
