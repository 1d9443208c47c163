package kubeletapi

import (
	"fmt"
	"net/url"
	"strings"
)

// Kubelet paths as kube-apiserver calls them (k8s.io/kubernetes
// pkg/registry/core/pod/strategy.go), and the host API's pod subresource each
// becomes.
const (
	pathLogs        = "containerLogs"
	pathExec        = "exec"
	pathAttach      = "attach"
	pathPortForward = "portForward"
)

var subresources = map[string]string{
	pathLogs:        "log",
	pathExec:        "exec",
	pathAttach:      "attach",
	pathPortForward: "portforward",
}

// call is one kubelet API call on a virtual pod.
type call struct {
	// kind is one of the path constants.
	kind                      string
	namespace, pod, container string
	query                     url.Values
}

// hostQuery translates the kubelet's query parameters into those of the host
// API's subresource. The kubelet spells exec's streams input/output/error and
// port-forward's ports "port" (comma-separated); the pod API spells them
// stdin/stdout/stderr and repeated "ports", and takes the container as a
// parameter. Only known parameters pass; anything else is dropped.
func (c call) hostQuery() (url.Values, error) {
	out := url.Values{}
	switch c.kind {
	case pathLogs:
		out.Set("container", c.container)
		for _, k := range []string{"follow", "previous", "timestamps", "sinceSeconds", "sinceTime", "tailLines", "limitBytes", "stream"} {
			if v, ok := c.query[k]; ok && len(v) > 0 {
				out.Set(k, v[0])
			}
		}
	case pathExec, pathAttach:
		out.Set("container", c.container)
		for kubelet, api := range map[string]string{"input": "stdin", "output": "stdout", "error": "stderr", "tty": "tty"} {
			if v := c.query.Get(kubelet); v != "" && v != "0" && v != "false" {
				out.Set(api, "true")
			}
		}
		if c.kind == pathExec {
			cmd := c.query["command"]
			if len(cmd) == 0 {
				return nil, fmt.Errorf("exec without a command")
			}
			out["command"] = cmd
		}
	case pathPortForward:
		for _, v := range c.query["port"] {
			for p := range strings.SplitSeq(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out.Add("ports", p)
				}
			}
		}
	default:
		return nil, fmt.Errorf("unknown kubelet call %q", c.kind)
	}
	return out, nil
}

// hostURL is the URL of the host pod's subresource on the host API server at
// base (its scheme, host and any path prefix).
func (c call) hostURL(base *url.URL, hostNamespace, hostPod string) (*url.URL, error) {
	q, err := c.hostQuery()
	if err != nil {
		return nil, err
	}
	u := *base
	u.Path = strings.TrimSuffix(base.Path, "/") + "/api/v1/namespaces/" + hostNamespace + "/pods/" + hostPod + "/" + subresources[c.kind]
	u.RawPath = ""
	u.RawQuery = q.Encode()
	return &u, nil
}
