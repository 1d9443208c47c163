// Package up is `gantry up` without its flags: it brings a whole gantry up
// in one process and keeps it running until interrupted or until a part
// fails. In order (docs/architecture.md, "gantry up, in order", is this
// package):
//
//  1. open the data directory (its exclusive lock) and kill the orphans of
//     a gantry that was killed;
//  2. set the process-wide loggers, here and nowhere else;
//  3. check everything else before starting anything (check.go): the
//     external host answers, the Kubernetes binaries, the TLS certificate,
//     the HTTP address (its listener is held from then on);
//  4. build the parts (the embedded host unless --kubeconfig names one, the
//     platform) and run them with the HTTP server as one lifecycle.Group:
//     the server, the host, then the platform once the host's API answers;
//  5. once every readiness check passes, say so and publish run.json every
//     second for `gantry status` and `gantry stop`;
//  6. on SIGINT or SIGTERM, or when a part fails, stop the parts in reverse
//     order, remove run.json and release the lock.
package up
