package projectapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gantry.dev/gantry/internal/gitops/cluster"
)

func TestClusters(t *testing.T) {
	f := setup(t, "cl", "cl-other")
	f.project(t, "cl", user("alice", viewer))
	f.project(t, "cl-other")
	secret := func(name string, data map[string]string, labels map[string]string) {
		labels[cluster.SecretTypeLabel] = cluster.SecretTypeValue
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.api.Namespace, Labels: labels}, StringData: data}
		if err := f.c.Create(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	const token = "SECRET-BEARER-TOKEN"
	secret("vcluster-p-cl-dev", map[string]string{"name": "p-cl/dev", "server": "https://127.0.0.1:7443",
		"config": `{"bearerToken": "` + token + `"}`}, map[string]string{cluster.LabelVCluster: "dev", cluster.LabelVClusterNamespace: "p-cl"})
	secret("vcluster-p-cl-other-x", map[string]string{"name": "p-cl-other/x", "server": "https://127.0.0.1:7444",
		"config": `{"bearerToken": "` + token + `"}`}, map[string]string{cluster.LabelVCluster: "x", cluster.LabelVClusterNamespace: "p-cl-other"})
	secret("prod", map[string]string{"name": "prod", "server": "https://prod.example.com/", "config": `{"bearerToken": "` + token + `"}`}, map[string]string{})
	secret("broken", map[string]string{"name": "no-server"}, map[string]string{})

	for tok, want := range map[string][]string{
		tAdmin:           {"in-cluster", "p-cl-other/x", "p-cl/dev", "prod"},
		tAlice:           {"p-cl/dev"}, // her project's virtual cluster
		tCarol:           {"prod"},     // policy.csv names its server URL
		tMallory:         nil,
		tAdminKey + "cl": {"p-cl/dev"}, // a scoped key: its project's only
	} {
		r := f.call(t, http.MethodGet, ClustersPrefix, tok, nil)
		r.Want(t, http.StatusOK, "")
		if got := r.Names(); !slices.Equal(got, want) {
			t.Errorf("%s sees %v, want %v", tok, got, want)
		}
		if strings.Contains(r.Body, token) || strings.Contains(r.Body, "config") {
			t.Fatalf("credentials in the answer: %s", r.Body)
		}
	}
	r := f.call(t, http.MethodGet, ClustersPrefix, tAdmin, nil)
	items := r.JSON["items"].([]any)
	if dev := items[2].(map[string]any); dev["server"] != "https://127.0.0.1:7443" || dev["project"] != "cl" || dev["virtualCluster"] != "dev" {
		t.Errorf("virtual cluster entry: %v", dev)
	}
	if prod := items[3].(map[string]any); prod["server"] != "https://prod.example.com" {
		t.Errorf("prod entry: %v", prod)
	}
	f.call(t, http.MethodGet, ClustersPrefix+"/prod", tAdmin, nil).Want(t, http.StatusNotFound, "")

	// A registered cluster may be where a project's Argo CD runs.
	f.call(t, http.MethodPut, Prefix+"/cl", tAdmin, map[string]any{"argoCD": map[string]any{"enabled": true, "cluster": "prod"}}).Want(t, http.StatusOK, "")
}
