package appapi

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gantry.dev/gantry/internal/gitops/tree"
)

// TestLogs: GET /applications/{name}/logs streams the logs of the app's pods
// as Argo CD does: a Deployment means the pods of its ReplicaSets, a pod
// outside the tree is never read, the default container is the pod's own,
// and reading needs "logs get" on the app's project.
func TestLogs(t *testing.T) {
	f := newFixture(t)
	dest := testDestination(t)
	ns := "logs-" + f.A
	f.MustCreate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
	if err := f.Direct.Create(context.Background(), sa); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	f.MustCreate(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-a", Namespace: ns,
		Annotations: map[string]string{"kubectl.kubernetes.io/default-container": "app"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "sidecar", Image: "x"}, {Name: "app", Image: "x"}}}})
	for _, name := range []string{"web-b", "db-0"} {
		f.MustCreate(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "x"}}}})
	}
	// A pod on a simulated node: no container runs, so no logs, said at once.
	simNode := "sim-" + f.A
	f.MustCreate(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: simNode, Labels: map[string]string{"gantry.dev/simulated": "true"}}})
	f.MustCreate(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "sim-0", Namespace: ns},
		Spec: corev1.PodSpec{NodeName: simNode, Containers: []corev1.Container{{Name: "main", Image: "x"}}}})
	rs := tree.ResourceRef{Group: "apps", Kind: "ReplicaSet", Namespace: ns, Name: "web-1", UID: "rs-uid"}
	deploy := tree.ResourceRef{Group: "apps", Kind: "Deployment", Namespace: ns, Name: "web", UID: "d-uid"}
	pod := func(name string, parent tree.ResourceRef) tree.Node {
		return tree.Node{ResourceRef: tree.ResourceRef{Version: "v1", Kind: "Pod", Namespace: ns, Name: name, UID: name + "-uid"},
			ParentRefs: []tree.ResourceRef{parent}}
	}
	engine := &treeEngine{dest: dest, nodes: []tree.Node{
		{ResourceRef: deploy}, {ResourceRef: rs, ParentRefs: []tree.ResourceRef{deploy}},
		pod("web-a", rs), pod("web-b", rs),
		{ResourceRef: tree.ResourceRef{Kind: "Service", Namespace: ns, Name: "db"}},
		pod("db-0", tree.ResourceRef{Group: "apps", Kind: "StatefulSet", Namespace: ns, Name: "db"}),
		pod("sim-0", rs), pod("gone-0", tree.ResourceRef{Kind: "Job", Group: "batch", Namespace: ns, Name: "once"}),
	}, logs: map[string]string{
		ns + "/web-a/app":  "2026-12-06T10:00:00Z started web-a\n2026-12-06T10:00:01Z request GET /\n",
		ns + "/web-b/main": "2026-12-06T10:00:02Z started web-b\n",
		ns + "/db-0/main":  "2026-12-06T10:00:03Z started db\n",
	}}
	f.api.Engine = engine
	base := "/api/v1/applications/one/logs?"
	entries := func(body string) (lines []string, last bool) {
		t.Helper()
		for l := range strings.SplitSeq(strings.TrimSpace(body), "\n") {
			var e struct{ Result LogEntry }
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("not a JSON line: %q: %v", l, err)
			}
			if e.Result.Last {
				last = true
				continue
			}
			lines = append(lines, e.Result.PodName+" "+e.Result.TimeStampStr+" "+e.Result.Content)
		}
		slices.Sort(lines)
		return lines, last
	}

	// One pod of the tree, its default container.
	body := f.expect("alice", "GET", base+url.Values{"podName": {"web-a"}, "namespace": {ns}, "tailLines": {"10"}}.Encode(), 200)
	lines, last := entries(body)
	if want := []string{"web-a 2026-12-06T10:00:00Z started web-a", "web-a 2026-12-06T10:00:01Z request GET /"}; !slices.Equal(lines, want) || !last {
		t.Errorf("logs of web-a: %q (last %v), want %q and a last entry", lines, last, want)
	}
	// A Deployment: the pods under it, not the StatefulSet's.
	body = f.expect("victor", "GET", base+url.Values{"kind": {"Deployment"}, "group": {"apps"}, "resourceName": {"web"}, "container": {"main"}}.Encode(), 400,
		"container main is not valid for pod web-a")
	body = f.expect("victor", "GET", base+url.Values{"kind": {"ReplicaSet"}, "group": {"apps"}, "resourceName": {"web-1"}, "podName": {"web-b"}, "container": {"main"}}.Encode(), 200)
	if lines, _ := entries(body); len(lines) != 1 || !strings.HasPrefix(lines[0], "web-b ") {
		t.Errorf("podName web-b: %q", lines)
	}
	engine.logs[ns+"/web-a/main"] = "2026-12-06T10:00:04Z web-a main\n"
	body = f.expect("alice", "GET", base+url.Values{"kind": {"Deployment"}, "group": {"apps"}, "resourceName": {"web"}, "container": {"main"}, "follow": {"true"}}.Encode(), 200)
	if lines, _ := entries(body); len(lines) != 2 || !strings.HasPrefix(lines[0], "web-a ") || !strings.HasPrefix(lines[1], "web-b ") {
		t.Errorf("a Deployment's logs: %q, want web-a's and web-b's only", lines)
	}
	if !slices.Contains(engine.asked, ns+"/web-b/main follow=true previous=false tail=false") {
		t.Errorf("options not passed on: %q", engine.asked)
	}

	f.expect("alice", "GET", base+url.Values{"podName": {"sim-0"}}.Encode(), 404, "runs on simulated node "+simNode+": no container runs there")
	f.expect("alice", "GET", base+url.Values{"podName": {"gone-0"}}.Encode(), 404, "pod gone-0 no longer exists")

	// Refused: a pod outside the tree; bad parameters; another project's
	// member; no token.
	f.expect("root", "GET", base+url.Values{"podName": {"stranger"}}.Encode(), 404, "no pods of pod stranger in application one")
	f.expect("root", "GET", base+url.Values{"kind": {"Deployment"}, "group": {"apps"}, "resourceName": {"nope"}}.Encode(), 404, "Deployment nope is not part of the application")
	f.expect("root", "GET", base+"tailLines=-1", 400, "tailLines")
	f.expect("root", "GET", base+"follow=maybe", 400, "follow")
	f.expect("bob", "GET", base+"podName=web-a", 403)
	f.expect("", "GET", base+"podName=web-a", 401)
	engine.mu.Lock()
	defer engine.mu.Unlock()
	for _, a := range engine.asked {
		if strings.Contains(a, "stranger") {
			t.Errorf("a pod outside the tree was read: %s", a)
		}
	}
}
