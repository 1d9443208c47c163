package tree

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"gantry.dev/gantry/internal/gitops/health"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// loadObjects reads a multi-document YAML file.
func loadObjects(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(string(data), "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), u); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		objs = append(objs, u)
	}
	return objs
}

func assess(obj *unstructured.Unstructured) *health.Status {
	st, _ := health.Assess(obj)
	return st
}

// split returns the first n objects as managed, the rest as candidates.
func split(objs []*unstructured.Unstructured, n int) (managed, children []*unstructured.Unstructured) {
	return objs[:n], objs[n:]
}

func byName(nodes []Node) map[string]Node {
	out := map[string]Node{}
	for _, n := range nodes {
		out[n.Kind+"/"+n.Namespace+"/"+n.Name] = n
	}
	return out
}

func parents(n Node) []string {
	var out []string
	for _, p := range n.ParentRefs {
		out = append(out, p.Kind+"/"+p.Name)
	}
	return out
}

func info(n Node) map[string]string {
	out := map[string]string{}
	for _, i := range n.Info {
		out[i.Name] = i.Value
	}
	return out
}

func TestBuildWeb(t *testing.T) {
	managed, children := split(loadObjects(t, "web.yaml"), 2)
	nodes := Build(managed, children, assess)
	got := byName(nodes)

	want := map[string]struct {
		parents []string
		health  health.Code // "" means no health
	}{
		"Deployment/shop/web":            {nil, health.Progressing},
		"Service/shop/web":               {nil, health.Healthy},
		"ReplicaSet/shop/web-7c5ddbdf54": {[]string{"Deployment/web"}, health.Progressing},
		"ReplicaSet/shop/web-5f6b8c9d7":  {[]string{"Deployment/web"}, health.Healthy},
		"Pod/shop/web-7c5ddbdf54-abcde":  {[]string{"ReplicaSet/web-7c5ddbdf54"}, health.Healthy},
		"Pod/shop/web-7c5ddbdf54-fghij":  {[]string{"ReplicaSet/web-7c5ddbdf54"}, health.Degraded},
		"EndpointSlice/shop/web-x7k2p":   {[]string{"Service/web"}, ""},
		"Endpoints/shop/web":             {[]string{"Service/web"}, ""},
	}
	if len(got) != len(want) {
		names := make([]string, 0, len(got))
		for k := range got {
			names = append(names, k)
		}
		t.Fatalf("got %d nodes %v, want %d: objects of other apps, or in other namespaces, must be left out", len(got), names, len(want))
	}
	for name, w := range want {
		n, ok := got[name]
		if !ok {
			t.Errorf("missing node %s", name)
			continue
		}
		if p := parents(n); strings.Join(p, ",") != strings.Join(w.parents, ",") {
			t.Errorf("%s: parents %v, want %v", name, p, w.parents)
		}
		switch {
		case w.health == "" && n.Health != nil:
			t.Errorf("%s: health %v, want none", name, *n.Health)
		case w.health != "" && (n.Health == nil || n.Health.Status != w.health):
			t.Errorf("%s: health %v, want %s", name, n.Health, w.health)
		}
	}

	crash := got["Pod/shop/web-7c5ddbdf54-fghij"]
	if i := info(crash); i["Status Reason"] != "CrashLoopBackOff" || i["Containers"] != "0/1" || i["Restart Count"] != "5" || i["Node"] != "node-2" {
		t.Errorf("crash-looping pod info: %v", crash.Info)
	}
	if strings.Join(crash.Images, ",") != "example.com/web-migrate:2,nginx:1.27" {
		t.Errorf("crash-looping pod images: %v", crash.Images)
	}
	ok := got["Pod/shop/web-7c5ddbdf54-abcde"]
	if i := info(ok); i["Status Reason"] != "Running" || i["Containers"] != "1/1" || i["Restart Count"] != "" {
		t.Errorf("running pod info: %v", ok.Info)
	}
	if i := info(got["ReplicaSet/shop/web-7c5ddbdf54"]); i["Revision"] != "Rev:2" {
		t.Errorf("replica set info: %v", got["ReplicaSet/shop/web-7c5ddbdf54"].Info)
	}
	if svc := got["Service/shop/web"]; svc.NetworkingInfo == nil || svc.NetworkingInfo.TargetLabels["app"] != "web" {
		t.Errorf("service networking info: %+v", svc.NetworkingInfo)
	}

	golden(t, "web.tree.json", Tree{Nodes: nodes})
}

func TestBuildWorkloads(t *testing.T) {
	managed, children := split(loadObjects(t, "batch.yaml"), 3)
	got := byName(Build(managed, children, assess))
	want := map[string][]string{
		"StatefulSet/data/db":                  nil,
		"CronJob/data/report":                  nil,
		"Service/data/db":                      nil,
		"Pod/data/db-0":                        {"StatefulSet/db"},
		"ControllerRevision/data/db-6f9c7d8b5": {"StatefulSet/db"},
		"Job/data/report-29012345":             {"CronJob/report"},
		"Pod/data/report-29012345-x7k2p":       {"Job/report-29012345"},
		"EndpointSlice/data/db-manual":         {"Service/db"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d nodes, want %d", len(got), len(want))
	}
	for name, wp := range want {
		if p := parents(got[name]); strings.Join(p, ",") != strings.Join(wp, ",") {
			t.Errorf("%s: parents %v, want %v", name, p, wp)
		}
	}
	if i := info(got["Pod/data/db-0"]); i["Status Reason"] != "ContainerCreating" || i["Containers"] != "0/1" {
		t.Errorf("db-0 info: %v", i)
	}
	if i := info(got["Pod/data/report-29012345-x7k2p"]); i["Status Reason"] != "Completed" {
		t.Errorf("report pod info: %v", i)
	}
	if i := info(got["ControllerRevision/data/db-6f9c7d8b5"]); i["Revision"] != "Rev:1" {
		t.Errorf("controller revision info: %v", i)
	}
	if h := got["Job/data/report-29012345"].Health; h == nil || h.Status != health.Healthy {
		t.Errorf("job health: %v", h)
	}
}

// TestBuildOwnershipCycle: owner references that loop (which a broken
// controller or a hand edit can produce) are walked once.
func TestBuildOwnershipCycle(t *testing.T) {
	obj := func(kind, name, uid string, owners ...string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "example.com/v1", "kind": kind,
			"metadata": map[string]any{"name": name, "namespace": "ns", "uid": uid},
		}}
		var refs []any
		for _, o := range owners {
			refs = append(refs, map[string]any{"apiVersion": "example.com/v1", "kind": "Thing", "name": o, "uid": o})
		}
		if refs != nil {
			u.Object["metadata"].(map[string]any)["ownerReferences"] = refs
		}
		return u
	}
	root := obj("Root", "root", "root")
	a := obj("Thing", "a", "a", "root", "b")
	b := obj("Thing", "b", "b", "a")
	self := obj("Thing", "self", "self", "self", "a")
	nodes := Build([]*unstructured.Unstructured{root}, []*unstructured.Unstructured{a, b, self, a}, nil)
	got := byName(nodes)
	if len(nodes) != 4 || len(got) != 4 {
		t.Fatalf("got %d nodes, want root, a, b, self once each", len(nodes))
	}
	if p := parents(got["Thing/ns/a"]); strings.Join(p, ",") != "Root/root,Thing/b" {
		t.Errorf("a: parents %v", p)
	}
	if p := parents(got["Thing/ns/self"]); strings.Join(p, ",") != "Thing/a" {
		t.Errorf("self: parents %v (a node is not its own parent)", p)
	}
	for _, n := range nodes {
		if n.Health != nil {
			t.Errorf("%s: health without a health function", n.Name)
		}
	}
}

func TestBuildNothingManaged(t *testing.T) {
	if nodes := Build(nil, loadObjects(t, "web.yaml"), assess); len(nodes) != 0 {
		t.Fatalf("got %d nodes from candidates alone", len(nodes))
	}
}

// golden compares v, as JSON, with testdata/name; -update rewrites the file.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}
