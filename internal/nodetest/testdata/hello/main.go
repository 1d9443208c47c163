// hello: a tiny HTTP server for tests on a real node. It logs every request
// (so kubectl logs has something to show). The image links other names to it,
// for kubectl exec in an image without a shell: "echo" prints its arguments,
// "get" prints the body of an HTTP GET of its argument (a Service by name
// tests cluster DNS), "kubeget" GETs a path of the pod's own API server with
// its in-cluster configuration, "kill" ends the server (PID 1), so that the
// kubelet restarts it.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	switch filepath.Base(os.Args[0]) {
	case "echo":
		fmt.Println(strings.Join(os.Args[1:], " "))
		return
	case "get":
		get(os.Args[1])
		return
	case "kubeget":
		kubeget(os.Args[1:])
		return
	case "kill":
		// PID 1 of a PID namespace receives only signals it handles: the
		// server handles SIGTERM below.
		if err := syscall.Kill(1, syscall.SIGTERM); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	addr := ":8080"
	if p := os.Getenv("PORT"); p != "" {
		addr = ":" + p
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		log.Printf("terminated")
		os.Exit(3)
	}()
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("request %s %s", r.Method, r.URL.Path)
		fmt.Fprintf(w, "hello from %s\n", host)
	})
	log.Printf("listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}

func get(url string) {
	resp, err := http.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, resp.Status, err)
		os.Exit(1)
	}
}

// kubeget GETs a path of the pod's API server as rest.InClusterConfig finds
// it: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, verified
// with the service account's ca.crt, its token as bearer. -server names the
// server otherwise (https://kubernetes.default.svc), -token sends another
// token. It prints the status and the body, and fails unless 200.
func kubeget(args []string) {
	fs := flag.NewFlagSet("kubeget", flag.ExitOnError)
	server := fs.String("server", "https://"+net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")), "API server URL")
	token := fs.String("token", "", "bearer token (default the service account's)")
	_ = fs.Parse(args)
	const sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
	if *token == "" {
		b, err := os.ReadFile(sa + "token")
		if err != nil {
			fail(err)
		}
		*token = strings.TrimSpace(string(b))
	}
	ca, err := os.ReadFile(sa + "ca.crt")
	if err != nil {
		fail(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		fail(fmt.Errorf("no certificate in %sca.crt", sa))
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	req, err := http.NewRequest(http.MethodGet, *server+fs.Arg(0), nil)
	if err != nil {
		fail(err)
	}
	req.Header.Set("Authorization", "Bearer "+*token)
	resp, err := c.Do(req)
	if err != nil {
		fail(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.Status)
	_, _ = io.Copy(os.Stdout, resp.Body)
	if resp.StatusCode != http.StatusOK {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
