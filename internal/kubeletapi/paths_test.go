package kubeletapi

import (
	"net/url"
	"testing"
)

func TestHostURL(t *testing.T) {
	base, _ := url.Parse("https://127.0.0.1:6443")
	for _, tc := range []struct {
		name string
		c    call
		want string
	}{
		{"logs", call{kind: pathLogs, namespace: "default", pod: "web", container: "app",
			query: url.Values{"follow": {"true"}, "tailLines": {"10"}, "previous": {"true"}, "evil": {"x"}}},
			"https://127.0.0.1:6443/api/v1/namespaces/hns/pods/hpod/log?container=app&follow=true&previous=true&tailLines=10"},
		{"exec", call{kind: pathExec, namespace: "default", pod: "web", container: "app",
			query: url.Values{"command": {"echo", "hi"}, "output": {"1"}, "error": {"1"}, "input": {"0"}}},
			"https://127.0.0.1:6443/api/v1/namespaces/hns/pods/hpod/exec?command=echo&command=hi&container=app&stderr=true&stdout=true"},
		{"attach", call{kind: pathAttach, container: "app", query: url.Values{"input": {"1"}, "tty": {"1"}}},
			"https://127.0.0.1:6443/api/v1/namespaces/hns/pods/hpod/attach?container=app&stdin=true&tty=true"},
		{"port-forward", call{kind: pathPortForward, query: url.Values{"port": {"8080,9090"}}},
			"https://127.0.0.1:6443/api/v1/namespaces/hns/pods/hpod/portforward?ports=8080&ports=9090"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := tc.c.hostURL(base, "hns", "hpod")
			if err != nil {
				t.Fatal(err)
			}
			if u.String() != tc.want {
				t.Errorf("got  %s\nwant %s", u, tc.want)
			}
		})
	}
	if _, err := (call{kind: pathExec, container: "app"}).hostURL(base, "a", "b"); err == nil {
		t.Error("exec without a command: no error")
	}
}

func TestClientName(t *testing.T) {
	for cn, ok := range map[string]bool{
		"gantry-vcluster:p-a/dev": true, "gantry-vcluster:/dev": false, "gantry-vcluster:p-a": false,
		"kube-apiserver-kubelet-client": false, "gantry-vcluster:p-a/": false,
	} {
		if _, got := parseClientName(cn); got != ok {
			t.Errorf("parseClientName(%q) ok = %v, want %v", cn, got, ok)
		}
	}
}
