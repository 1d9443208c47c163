package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromium is a real headless Chromium (Debian's, which hack/test-deps.sh
// installs, or $CHROMIUM), driven over the DevTools protocol. Each sign-in
// gets a fresh browser context: its own cookies, as a private window.
type chromium struct {
	t   *testing.T
	ctx context.Context
}

func newChromium(t *testing.T) *chromium {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Chromium is not installed at %s: run hack/test-deps.sh (apt-get install chromium) or set CHROMIUM", path)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		// The profile is thrown away; the test's own API calls verify
		// gantry's certificate against its CA.
		chromedp.Flag("ignore-certificate-errors", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Closing the context stops Chromium (by its pid, through the allocator).
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return &chromium{t: t, ctx: ctx}
}

// errNotSentToGantry: Argo CD's /auth/login did not lead to gantry's login page.
var errNotSentToGantry = errors.New("not sent to gantry's login page")

// argoSignIn is a person signing in to Argo CD with SSO: Argo CD's
// /auth/login sends the browser to gantry's login page, the person types a
// user name and password and clicks Log in, and Argo CD's callback lands them
// on its applications page with a session cookie. It returns the session
// token and the time from the click to the applications page, or the reason
// the sign-in did not get there.
func (c *chromium) argoSignIn(argoURL, gantryAddr, user, password string) (string, time.Duration, error) {
	ctx, cancel := chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	// The first call opens the tab; a timeout on it would close the tab.
	if err := chromedp.Do(ctx); err != nil {
		return "", 0, err
	}
	ctx, cancelT := context.WithTimeout(ctx, time.Minute)
	defer cancelT()
	landing := argoURL + "/applications"
	if err := chromedp.Do(ctx, chromedp.Navigate(argoURL+"/auth/login?return_url="+landing)); err != nil {
		return "", 0, err
	}
	// Navigate returns once the last page of the redirect chain has loaded:
	// still at Argo CD is Argo CD's answer, not a page on its way.
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil && strings.HasPrefix(loc, argoURL) {
		return "", 0, fmt.Errorf("%w: at %s", errNotSentToGantry, loc)
	}
	if err := waitFor(ctx, 20*time.Second, func(loc string) bool {
		return strings.HasPrefix(loc, "https://"+gantryAddr+"/login?oidc=")
	}); err != nil {
		return "", 0, fmt.Errorf("%w: %w", errNotSentToGantry, err)
	}
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password)); err != nil {
		return "", 0, fmt.Errorf("gantry's login page: %w (is the UI built? make ui)", err)
	}
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[type=submit]`))); err != nil {
		return "", 0, err
	}
	if err := waitFor(ctx, 30*time.Second, func(loc string) bool { return strings.HasPrefix(loc, landing) }); err != nil {
		alert, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('[role=alert]')||{}).textContent||document.body.innerText.slice(0,300)`))
		return "", 0, fmt.Errorf("not on Argo CD's applications page after signing in: %w; the page says %q", err, alert)
	}
	took := time.Since(start)
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{argoURL}})
	if err != nil {
		return "", 0, err
	}
	tok := argoToken(cookies.Cookies)
	if tok == "" {
		return "", 0, fmt.Errorf("on the applications page without Argo CD's argocd.token cookie")
	}
	return tok, took, nil
}

// argoToken joins Argo CD's session cookie: argocd.token, split into
// argocd.token=N:<part>, argocd.token-1=<part>… when longer than a cookie.
func argoToken(cookies []*network.Cookie) string {
	parts := map[int]string{}
	for _, c := range cookies {
		switch {
		case c.Name == "argocd.token":
			parts[0] = c.Value
		case strings.HasPrefix(c.Name, "argocd.token-"):
			if n, err := strconv.Atoi(strings.TrimPrefix(c.Name, "argocd.token-")); err == nil {
				parts[n] = c.Value
			}
		}
	}
	first, ok := parts[0]
	if !ok {
		return ""
	}
	if n, rest, split := strings.Cut(first, ":"); split && len(parts) > 1 {
		if _, err := strconv.Atoi(n); err == nil {
			parts[0] = rest
		}
	}
	keys := make([]int, 0, len(parts))
	for k := range parts {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(parts[k])
	}
	return b.String()
}

// waitFor polls the page's location until ok says so.
func waitFor(ctx context.Context, timeout time.Duration, ok func(loc string) bool) error {
	deadline := time.Now().Add(timeout)
	var loc string
	for time.Now().Before(deadline) {
		// Between two pages of a redirect chain the location cannot be read:
		// that is not an error, only not there yet.
		if l, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
			if loc = l; ok(loc) {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("still at %s after %s", loc, timeout)
}
