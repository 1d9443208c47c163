package sso

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"gantry.dev/gantry/internal/identity/sso/ssotest"
	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) {
	// The example provider logs every request through slog's default logger.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	// Controller-runtime's too (the Service's tests run a manager).
	ctrllog.SetLogger(logr.Discard())
	// The Service's tests share a real API server, stopped at the end.
	os.Exit(kubetest.Main(m))
}

// The upstream in these tests is ssotest's: zitadel's example OpenID provider
// with a groups claim.
const (
	idpClientID     = ssotest.ClientID
	idpClientSecret = ssotest.ClientSecret
	idpPassword     = ssotest.Password
)

type idpUser = ssotest.User

func startIDP(t *testing.T, redirectURL string, users []idpUser, configure func(*ssotest.Storage)) *ssotest.IdP {
	return ssotest.Start(t, redirectURL, users, configure)
}
