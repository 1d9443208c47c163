package appapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/gitops/tree"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/jsonapi"
	"gantry.dev/gantry/internal/simnodes"
)

// MaxLogPods is how many pods one logs request streams at most (Argo CD's
// default for its maxPodLogsToRender).
const MaxLogPods = 10

// LogEntry is one line of a pod's log, as Argo CD's API streams it: each
// line of the answer is {"result": LogEntry}; the last has Last set.
type LogEntry struct {
	Content      string `json:"content"`
	PodName      string `json:"podName,omitempty"`
	TimeStampStr string `json:"timeStampStr,omitempty"`
	Last         bool   `json:"last,omitempty"`
}

// logs is Argo CD's GET /applications/{name}/logs: the logs of the pods of
// the app's resource tree, one JSON object per line, as they come (follow).
// Which pods: podName (a Pod of the tree), or every Pod under the node that
// kind, group and resourceName name (a Deployment means its ReplicaSets'
// pods), or every Pod of the app; at most MaxLogPods. Parameters as Argo
// CD's: namespace, container (default each pod's first), follow, previous,
// tailLines, sinceSeconds. Needs "logs get" on the app besides "applications
// get", as in Argo CD.
func (a *API) logs(w http.ResponseWriter, r *http.Request, c *api.Caller, app *gitopsv1alpha1.Application) error {
	if err := c.Can(rbac.ResourceLogs, rbac.ActionGet, api.InProject(Project(app), app.Name)); err != nil {
		return err
	}
	if a.Engine == nil {
		return errNoEngine
	}
	ctx, q := r.Context(), r.URL.Query()
	opts, err := logOptions(q)
	if err != nil {
		return err
	}
	v, err := a.Engine.ResourceTree(ctx, app)
	if err != nil {
		return engineError(err)
	}
	var t tree.Tree
	if b, err := json.Marshal(v); err != nil {
		return err
	} else if err := json.Unmarshal(b, &t); err != nil {
		return err
	}
	pods, err := podsOf(t.Nodes, q)
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		return jsonapi.Errorf(http.StatusNotFound, "no pods of %s in application %s (yet)", describeQuery(q), app.Name)
	}
	if len(pods) > MaxLogPods {
		pods = pods[:MaxLogPods]
	}
	// Open every stream before the first byte is written: an error (a
	// container that does not exist, no previous instance) is then an
	// answer with a status, not a broken stream.
	var streams []podStream
	defer func() {
		for _, s := range streams {
			s.body.Close()
		}
	}()
	// Pods where nothing can be read (replaced meanwhile, on a simulated
	// node) are left out of a resource's logs; alone, they are the answer.
	var skipped error
	for _, p := range pods {
		po := *opts
		container, node, err := a.podFacts(ctx, app, p)
		switch {
		case errors.Is(err, errPodGone):
			skipped = jsonapi.Errorf(http.StatusNotFound, "pod %s no longer exists", p.Name)
			continue
		case err != nil:
			return err
		case node != "":
			skipped = jsonapi.Errorf(http.StatusNotFound, "pod %s runs on simulated node %s: no container runs there, so it has no logs "+
				"(a real node runs it when gantry up starts one)", p.Name, node)
			continue
		}
		if po.Container == "" {
			po.Container = container
		}
		body, err := a.Engine.PodLogs(ctx, app, p.Namespace, p.Name, &po)
		if err != nil {
			if st, ok := err.(apierrors.APIStatus); ok && st.Status().Code >= 400 {
				return jsonapi.Errorf(int(st.Status().Code), "logs of pod %s: %s", p.Name, st.Status().Message)
			}
			return err
		}
		streams = append(streams, podStream{pod: p.Name, body: body})
	}
	if len(streams) == 0 {
		return skipped
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	writeLogs(ctx, w, streams)
	return nil
}

type podStream struct {
	pod  string
	body io.ReadCloser
}

// writeLogs copies every stream's lines to w as {"result": LogEntry}, each
// flushed as it comes, pods' lines interleaved as they arrive, then a last
// entry.
func writeLogs(ctx context.Context, w http.ResponseWriter, streams []podStream) {
	flusher, _ := w.(http.Flusher)
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	write := func(e LogEntry) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(map[string]LogEntry{"result": e})
		if flusher != nil {
			flusher.Flush()
		}
	}
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Go(func() {
			sc := bufio.NewScanner(s.body)
			sc.Buffer(make([]byte, 64*1024), 1024*1024)
			for sc.Scan() {
				ts, content, _ := strings.Cut(sc.Text(), " ")
				write(LogEntry{Content: content, PodName: s.pod, TimeStampStr: ts})
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		write(LogEntry{Last: true})
	case <-ctx.Done():
		for _, s := range streams {
			s.body.Close()
		}
		<-done
	}
}

// logOptions reads Argo CD's query parameters. Timestamps are always asked
// for: each line's is sent apart (timeStampStr).
func logOptions(q url.Values) (*corev1.PodLogOptions, error) {
	o := &corev1.PodLogOptions{Container: q.Get("container"), Timestamps: true}
	for name, into := range map[string]*bool{"follow": &o.Follow, "previous": &o.Previous} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, jsonapi.Errorf(http.StatusBadRequest, "%s=%q: want true or false", name, v)
			}
			*into = b
		}
	}
	for name, into := range map[string]**int64{"tailLines": &o.TailLines, "sinceSeconds": &o.SinceSeconds} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, jsonapi.Errorf(http.StatusBadRequest, "%s=%q: want a whole number, 0 or more", name, v)
			}
			if name == "sinceSeconds" && n == 0 {
				continue
			}
			*into = &n
		}
	}
	return o, nil
}

// podsOf picks the Pods of the tree that q asks for, sorted by namespace and
// name: podName; or those under the node of kind/group/resourceName; or all.
func podsOf(nodes []tree.Node, q url.Values) ([]tree.ResourceRef, error) {
	ns, podName := q.Get("namespace"), q.Get("podName")
	kind, group, name := q.Get("kind"), q.Get("group"), q.Get("resourceName")
	isPod := func(n tree.Node) bool { return n.Group == "" && n.Kind == "Pod" && (ns == "" || n.Namespace == ns) }
	var out []tree.ResourceRef
	switch {
	case podName != "":
		for _, n := range nodes {
			if isPod(n) && n.Name == podName {
				out = append(out, n.ResourceRef)
			}
		}
	case name != "" || kind != "":
		if name == "" || kind == "" {
			return nil, jsonapi.Errorf(http.StatusBadRequest, "kind and resourceName go together")
		}
		var root *tree.Node
		for i, n := range nodes {
			if n.Kind == kind && n.Group == group && n.Name == name && (ns == "" || n.Namespace == ns) {
				root = &nodes[i]
				break
			}
		}
		if root == nil {
			return nil, jsonapi.Errorf(http.StatusNotFound, "%s is not part of the application", describeQuery(q))
		}
		for _, n := range nodes {
			if isPod(n) && descends(nodes, n, root.ResourceRef) {
				out = append(out, n.ResourceRef)
			}
		}
	default:
		for _, n := range nodes {
			if isPod(n) {
				out = append(out, n.ResourceRef)
			}
		}
	}
	slices.SortFunc(out, func(a, b tree.ResourceRef) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return out, nil
}

// descends reports whether n is root or under it (parentRefs, transitively).
func descends(nodes []tree.Node, n tree.Node, root tree.ResourceRef) bool {
	seen := map[string]bool{}
	var walk func(tree.Node) bool
	walk = func(n tree.Node) bool {
		if sameRef(n.ResourceRef, root) {
			return true
		}
		if seen[refKey(n.ResourceRef)] {
			return false
		}
		seen[refKey(n.ResourceRef)] = true
		for _, p := range n.ParentRefs {
			for _, m := range nodes {
				if sameRef(m.ResourceRef, p) && walk(m) {
					return true
				}
			}
		}
		return false
	}
	return walk(n)
}

func sameRef(a, b tree.ResourceRef) bool {
	if a.UID != "" && b.UID != "" {
		return a.UID == b.UID
	}
	return a.Group == b.Group && a.Kind == b.Kind && a.Namespace == b.Namespace && a.Name == b.Name
}

func refKey(r tree.ResourceRef) string {
	return r.Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

func describeQuery(q url.Values) string {
	switch {
	case q.Get("podName") != "":
		return "pod " + q.Get("podName")
	case q.Get("resourceName") != "":
		return fmt.Sprintf("%s %s", q.Get("kind"), q.Get("resourceName"))
	}
	return "any resource"
}

// errPodGone: a pod of the tree is no longer in the cluster.
var errPodGone = errors.New("the pod no longer exists")

// podFacts reads a pod of the tree: the container its logs come from when
// none is named (kubectl's default-container annotation, else the first),
// and the name of its node when that node is simulated (no container runs).
func (a *API) podFacts(ctx context.Context, app *gitopsv1alpha1.Application, p tree.ResourceRef) (container, simulatedNode string, err error) {
	dyn, _, err := a.Engine.Destination(ctx, app)
	if err != nil {
		return "", "", engineError(err)
	}
	u, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return "", "", errPodGone
		}
		return "", "", err
	}
	var pod corev1.Pod
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &pod); err != nil {
		return "", "", err
	}
	if name := pod.Spec.NodeName; name != "" {
		n, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "nodes"}).Get(ctx, name, metav1.GetOptions{})
		if err == nil && n.GetLabels()[simnodes.SimulatedLabel] == "true" {
			simulatedNode = name
		}
	}
	container = pod.Annotations["kubectl.kubernetes.io/default-container"]
	if container == "" && len(pod.Spec.Containers) > 0 {
		container = pod.Spec.Containers[0].Name
	}
	return container, simulatedNode, nil
}
