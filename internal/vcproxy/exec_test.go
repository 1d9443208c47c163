package vcproxy

import (
	"bufio"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
)

// byToken names the caller by its bearer token.
type byToken struct{}

func (byToken) Authenticate(r *http.Request) (authn.Identity, error) {
	user, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return authn.Identity{}, authn.ErrNoCredentials
	}
	return authn.Identity{User: user}, nil
}

// TestExecNeedsExec: a stream into a virtual cluster's pods (exec, attach,
// port-forward: upgraded requests) needs "virtualclusters exec", which
// project viewers and role:readonly lack; logs need only connect; a member
// of project b reaches nothing of project a's clusters.
func TestExecNeedsExec(t *testing.T) {
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			fmt.Fprintln(w, "log line")
			return
		}
		conn, buf, _ := w.(http.Hijacker).Hijack()
		defer conn.Close()
		fmt.Fprint(buf, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")
		_ = buf.Flush()
	}))
	defer upstream.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: upstream.Certificate().Raw})

	enforcer, err := rbac.New(rbac.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := enforcer.SetPolicy("g, reader, role:readonly\n", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := enforcer.SetProjectPolicies(map[string]string{
		"a": rbac.ProjectPolicy("a", []rbac.Member{
			{Kind: rbac.MemberUser, Name: "victor", Role: rbac.ProjectViewer},
			{Kind: rbac.MemberUser, Name: "alice", Role: rbac.ProjectMember},
			{Kind: rbac.MemberUser, Name: "ada", Role: rbac.ProjectAdmin},
		}),
		"b": rbac.ProjectPolicy("b", []rbac.Member{{Kind: rbac.MemberUser, Name: "mallory", Role: rbac.ProjectMember}}),
	}); err != nil {
		t.Fatal(err)
	}
	router := api.NewRouter(byToken{}, enforcer.Authorize)
	(&Proxy{Backend: oneCluster{&rest.Config{Host: upstream.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}}}).Register(router)
	gantry := httptest.NewServer(router)
	defer gantry.Close()

	const pod = "/kubernetes/project/a/virtualcluster/dev/api/v1/namespaces/default/pods/web"
	for _, tc := range []struct {
		user, path string
		upgrade    bool
		want       int
	}{
		{"victor", pod + "/log?follow=true", false, http.StatusOK},
		{"victor", pod + "/exec?command=sh&stdin=true", true, http.StatusForbidden},
		{"victor", pod + "/portforward", true, http.StatusForbidden},
		// Not by its path: any upgraded request is a stream.
		{"victor", "/kubernetes/project/a/virtualcluster/dev/api/v1/namespaces/default/pods/web/%65xec?command=sh", true, http.StatusForbidden},
		{"reader", pod + "/attach", true, http.StatusForbidden},
		{"alice", pod + "/exec?command=sh", true, http.StatusSwitchingProtocols},
		{"alice", pod + "/portforward", true, http.StatusSwitchingProtocols},
		{"ada", pod + "/attach", true, http.StatusSwitchingProtocols},
		{"mallory", pod + "/exec?command=sh", true, http.StatusForbidden},
		{"mallory", pod + "/log", false, http.StatusForbidden},
	} {
		t.Run(fmt.Sprintf("%s %s upgrade=%v", tc.user, tc.path[strings.LastIndex(tc.path, "/"):], tc.upgrade), func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(gantry.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			method := "GET"
			if tc.upgrade {
				method = "POST"
			}
			fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: gantry\r\nAuthorization: Bearer %s\r\n", method, tc.path, tc.user)
			if tc.upgrade {
				fmt.Fprint(conn, "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n")
			}
			fmt.Fprint(conn, "\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s: status %d, want %d", tc.user, resp.StatusCode, tc.want)
			}
		})
	}
}
