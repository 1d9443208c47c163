package e2e

import (
	"testing"

	"gantry.dev/gantry/internal/pgtest"
)

// startPostgres runs Debian's PostgreSQL as this test's own process, listening
// on addr (a free port) with password authentication, and returns a kine DSN
// of its superuser for it; stopped by pid when the test ends (pgtest.Start).
func startPostgres(t *testing.T, addr string) string {
	t.Helper()
	return pgtest.Start(t, addr)
}
