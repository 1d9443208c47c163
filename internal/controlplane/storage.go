package controlplane

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// mysqlAddr matches the address in kine's MySQL DSN form user:pass@tcp(host:port)/db.
var mysqlAddr = regexp.MustCompile(`@tcp\(([^)]+)\)`)

// checkStorage dials the database server of a postgres:// or mysql:// DSN. kine
// retries an unreachable database for minutes without a way to cancel it, so gantry
// asks first and fails fast with a message that says which address did not answer.
func checkStorage(dsn string) error {
	scheme, _, _ := strings.Cut(dsn, "://")
	var addr string
	switch scheme {
	case "postgres", "postgresql":
		u, err := url.Parse(dsn)
		if err != nil {
			return fmt.Errorf("storage DSN is not a valid URL: %v", redact(err))
		}
		addr = u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), "5432")
		}
	case "mysql":
		m := mysqlAddr.FindStringSubmatch(dsn)
		if m == nil {
			return fmt.Errorf("storage DSN for MySQL must name its server as tcp(host:port), as in mysql://user:pass@tcp(127.0.0.1:3306)/db")
		}
		addr = m[1]
	default:
		return nil
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("storage server %s does not answer (%v); check the DSN's host and port and that the database runs", addr, redact(err))
	}
	conn.Close()
	return nil
}

// redact keeps passwords that a URL error may quote out of messages.
func redact(err error) string {
	var ue *url.Error
	msg := err.Error()
	if e, ok := err.(*url.Error); ok {
		ue = e
		if u, perr := url.Parse(ue.URL); perr == nil && u.User != nil {
			msg = strings.ReplaceAll(msg, u.User.String(), "***")
		}
	}
	return msg
}
