package sso

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"gantry.dev/gantry/internal/identity/sso/ssotest"
)

func TestMain(m *testing.M) {
	// The example provider logs every request through slog's default logger.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
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
