// Package argocdtest runs a real Argo CD for tests: its repo-server,
// application-controller and API server (the multi-call binary that `make
// argocd-binaries` builds from tools/argocd into bin/), with Debian's
// redis-server, as processes against a given cluster's kubeconfig, as an
// operator's installation would run in that cluster. Test support only:
// imported by _test files, never by gantry itself.
//
//	a := argocdtest.Start(t, argocdtest.Options{Kubeconfig: path})
//	admin := a.Client(a.AdminToken(t))
//	clusters, err := admin.Clusters(ctx)
//
// Start installs what Argo CD reads of its own manifests at the version
// tools/argocd pins (its CRDs, and the ConfigMaps and Secrets of
// manifests/install.yaml into namespace argocd), starts the processes on free
// loopback ports and stops them, by pid, when the test ends. Client speaks the
// parts of Argo CD's REST API the tests need.
package argocdtest
