package incluster

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// Owners says which virtual cluster a pod address belongs to
// (*clusterdns.Registry).
type Owners interface {
	// Owner returns the key of the virtual cluster whose pod has address ip.
	Owner(ip netip.Addr) (string, bool)
}

// Backend is what the server needs of the virtual cluster runtime.
type Backend interface {
	// Wake makes sure virtual cluster key (as Owners names it) runs, waking
	// it if asleep, records the connection as activity, and returns the
	// address (host:port) of its API server once that answers.
	Wake(ctx context.Context, key string) (string, error)
}

// Server relays pods' connections to their virtual cluster's API server.
type Server struct {
	Owners  Owners
	Backend Backend
	// WakeTimeout bounds how long a connection waits for its cluster to wake
	// (default one minute, as gantry's proxy).
	WakeTimeout time.Duration
	Log         logr.Logger
}

// Serve relays every connection accepted on l until ctx ends, then closes l
// and the connections it relays.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors, say: wait and go on, as net/http's
			// server does, rather than stop relaying for good.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.Log.Error(err, "accepting a pod's connection; retrying", "in", backoff.String())
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		wg.Go(func() { s.handle(ctx, c) })
	}
}

func (s *Server) handle(ctx context.Context, c net.Conn) {
	defer c.Close()
	src := sourceAddr(c.RemoteAddr())
	key, ok := s.Owners.Owner(src)
	if !ok {
		// At debug level: anyone who reaches the port can make this line.
		s.Log.V(1).Info("refused a connection: its source is no virtual cluster's pod", "source", src.String())
		return
	}
	timeout := s.WakeTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr, err := s.Backend.Wake(wctx, key)
	if err != nil {
		s.Log.Error(err, "a pod's connection to its virtual cluster's API server", "vcluster", key, "source", src.String())
		return
	}
	var d net.Dialer
	up, err := d.DialContext(wctx, "tcp", addr)
	if err != nil {
		s.Log.Error(err, "dialing a virtual cluster's API server", "vcluster", key, "source", src.String())
		return
	}
	cancel()
	relay(ctx, c, up)
}

// relay copies both ways until both sides are done (or one fails, or ctx
// ends), passing a half-close on: a client may end its requests and still
// read the answers.
func relay(ctx context.Context, a, b net.Conn) {
	closeBoth := func() {
		a.Close()
		b.Close()
	}
	stop := context.AfterFunc(ctx, closeBoth)
	defer stop()
	defer closeBoth()
	half := func(dst, src net.Conn) {
		if _, err := io.Copy(dst, src); err != nil {
			closeBoth()
			return
		}
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			closeBoth()
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { half(b, a) })
	wg.Go(func() { half(a, b) })
	wg.Wait()
}

func sourceAddr(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap.Addr().Unmap()
}
