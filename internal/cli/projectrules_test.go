package cli

import (
	"encoding/json"
	"testing"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/projectapi"
)

func TestProjectRuleFlags(t *testing.T) {
	p := projectapi.Project{AllowedDestinations: []platformv1alpha1.ProjectDestination{{Server: "https://kubernetes.default.svc", Namespace: "old-*"}}}
	p.ClusterResourceWhitelist = []metav1.GroupKind{{Group: "", Kind: "Namespace"}}
	run := func(add bool, args ...string) string {
		t.Helper()
		var f ruleFlags
		cmd := &cobra.Command{}
		f.register(cmd, "x")
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		body, err := f.change(p, add, cmd)
		if err != nil {
			return "error: " + err.Error()
		}
		b, _ := json.Marshal(body)
		return string(b)
	}
	for _, c := range []struct {
		add  bool
		args []string
		want string
	}{
		{true, []string{"--destination", "https://kubernetes.default.svc=web-*"},
			`{"allowedDestinations":[{"server":"https://kubernetes.default.svc","namespace":"old-*"},{"server":"https://kubernetes.default.svc","namespace":"web-*"}]}`},
		{true, []string{"--destination", "prod=shop"},
			`{"allowedDestinations":[{"server":"https://kubernetes.default.svc","namespace":"old-*"},{"name":"prod","namespace":"shop"}]}`},
		{false, []string{"--destination", "https://kubernetes.default.svc=old-*"}, `{"allowedDestinations":[]}`},
		{true, []string{"--cluster-resource", "apiextensions.k8s.io/CustomResourceDefinition"},
			`{"clusterResourceWhitelist":[{"group":"","kind":"Namespace"},{"group":"apiextensions.k8s.io","kind":"CustomResourceDefinition"}]}`},
		{false, []string{"--cluster-resource", "/Namespace"}, `{"clusterResourceWhitelist":[]}`},
		{true, []string{"--local-repositories"}, `{"localRepositories":true}`},
		{false, []string{"--local-repositories"}, `{"localRepositories":false}`},
		{true, []string{"--destination", "https://kubernetes.default.svc"}, `error: --destination "https://kubernetes.default.svc": write SERVER=NAMESPACE or CLUSTER-NAME=NAMESPACE, e.g. https://kubernetes.default.svc=web-*`},
		{true, []string{"--vcluster-own-storage"}, `{"virtualClusterOwnStorage":true}`},
		{false, []string{"--vcluster-own-storage"}, `{"virtualClusterOwnStorage":false}`},
		{true, nil, `error: nothing to change: give --destination, --source-repo, --cluster-resource, --local-repositories, --open-ingress or --vcluster-own-storage`},
	} {
		if got := run(c.add, c.args...); got != c.want {
			t.Errorf("add=%v %v:\n got %s\nwant %s", c.add, c.args, got, c.want)
		}
	}
}
