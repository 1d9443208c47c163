package users

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

const secret = "correct-horse-1"

// passwords makes users in a namespace of their own: alice with a password,
// dora disabled with one, sam from SSO without one.
func passwords(t *testing.T) Passwords {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{CRDs: true})
	ns := env.Namespace(t)
	ctx := context.Background()
	suffix := "-" + ns[len(ns)-8:]
	for _, u := range []*platformv1alpha1.User{
		{ObjectMeta: metav1.ObjectMeta{Name: "alice" + suffix}},
		{ObjectMeta: metav1.ObjectMeta{Name: "dora" + suffix}, Spec: platformv1alpha1.UserSpec{Disabled: true}},
		{ObjectMeta: metav1.ObjectMeta{Name: "sam" + suffix}},
	} {
		if err := env.Client.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), u) })
	}
	for _, name := range []string{"alice", "dora"} {
		if err := SetPassword(ctx, env.Client, ns, name+suffix, secret); err != nil {
			t.Fatal(err)
		}
	}
	return Passwords{Reader: env.Client, Namespace: ns}
}

func TestPasswords(t *testing.T) {
	p := passwords(t)
	suffix := "-" + p.Namespace[len(p.Namespace)-8:]
	for _, c := range []struct {
		user, password string
		want           bool
	}{
		{"alice", secret, true},
		{"alice", secret + "x", false},
		{"alice", "", false},
		{"dora", secret, false},   // disabled
		{"sam", secret, false},    // no password: signs in through SSO only
		{"nobody", secret, false}, // no such user
	} {
		ok, err := p.Check(context.Background(), c.user+suffix, c.password)
		if err != nil || ok != c.want {
			t.Errorf("Check(%s, %q) = %v, %v; want %v", c.user, c.password, ok, err, c.want)
		}
	}
	// Names no user can have are a wrong login, not an error (a 500).
	for _, user := range []string{"", "a/b", "UPPER", "x?y=1"} {
		if ok, err := p.Check(context.Background(), user, secret); ok || err != nil {
			t.Errorf("Check(%q) = %v, %v; want false, nil", user, ok, err)
		}
	}
}

// A login for a user who does not exist, is disabled or has no password
// takes as long as a wrong password for a real one: a bcrypt comparison
// each. Measured loosely, as the point is the order of magnitude (a skipped
// comparison is some 50 times faster): the two logins alternate, so that
// load from elsewhere on the machine falls on both alike, and the median of
// the other's must be at least a fifth of the real one's.
func TestPasswordsTimingTellsNoUsers(t *testing.T) {
	p := passwords(t)
	suffix := "-" + p.Namespace[len(p.Namespace)-8:]
	check := func(user string) time.Duration {
		start := time.Now()
		if _, err := p.Check(context.Background(), user, "wrong-password-1"); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	median := func(ds []time.Duration) time.Duration {
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	for _, user := range []string{"nobody" + suffix, "dora" + suffix, "sam" + suffix, "Not/A/Name"} {
		var reals, others []time.Duration
		for range 5 {
			reals = append(reals, check("alice"+suffix))
			others = append(others, check(user))
		}
		if real, d := median(reals), median(others); d < real/5 {
			t.Errorf("a login as %q takes %s, a wrong password for a real user %s: timing tells them apart", user, d, real)
		}
	}
}
