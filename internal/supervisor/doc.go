// Package supervisor runs a child process and keeps it running: it logs the child's
// output to a file, restarts it with backoff when it exits, and stops it (SIGTERM,
// then SIGKILL) when its context ends. Children are in their own process group, so
// a Ctrl-C at the terminal reaches only gantry, which stops them in order, and they
// get SIGKILL if gantry itself dies (Linux parent-death signal).
package supervisor
