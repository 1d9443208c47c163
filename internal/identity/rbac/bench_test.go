package rbac

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// policy1000 is a policy.csv of exactly 1,000 lines over 100 projects, 6 p
// lines and 4 g lines each: two custom roles per project, a user, a team and
// an SSO group bound to them, and one role inheriting the other.
func policy1000() string {
	var b strings.Builder
	for i := range 100 {
		p := fmt.Sprintf("proj-%d", i)
		dep, aud := "role:"+p+"-deployer", "role:"+p+"-auditor"
		fmt.Fprintf(&b, "p, %s, applications, sync, %s/*, allow\n", dep, p)
		fmt.Fprintf(&b, "p, %s, applications, get, %s/*, allow\n", dep, p)
		fmt.Fprintf(&b, "p, %s, virtualclusters, *, %s/*, allow\n", dep, p)
		fmt.Fprintf(&b, "p, %s, logs, get, %s/*, allow\n", dep, p)
		fmt.Fprintf(&b, "p, %s, applications, get, %s/*, allow\n", aud, p)
		fmt.Fprintf(&b, "p, %s, applications, delete, %s/prod-*, deny\n", aud, p)
		fmt.Fprintf(&b, "g, user-%d, %s\n", i, dep)
		fmt.Fprintf(&b, "g, team:t-%d, %s\n", i, aud)
		fmt.Fprintf(&b, "g, sso-%d, %s\n", i, dep)
		fmt.Fprintf(&b, "g, %s, %s\n", dep, aud)
	}
	return b.String()
}

type request struct {
	subjects      []string
	res, act, obj string
}

// requestMix is n requests from a user with a team and an SSO group, on
// random projects (their own one time in three), resources and actions.
func requestMix(n int, seed uint64) []request {
	r := rand.New(rand.NewPCG(seed, 7))
	resources := []string{"applications", "virtualclusters", "logs", "exec", "clusters", "projects"}
	actions := []string{"get", "sync", "create", "delete", "connect", "action/apps/Deployment/restart"}
	out := make([]request, n)
	for i := range out {
		u := r.IntN(100)
		p := r.IntN(100)
		if r.IntN(3) == 0 {
			p = u
		}
		res := resources[r.IntN(len(resources))]
		obj := fmt.Sprintf("proj-%d/app-%d", p, r.IntN(20))
		if !ProjectScoped(res) {
			obj = fmt.Sprintf("proj-%d", p)
		}
		out[i] = request{
			subjects: []string{fmt.Sprintf("user-%d", u), fmt.Sprintf("team:t-%d", r.IntN(100)), fmt.Sprintf("sso-%d", r.IntN(100))},
			res:      res, act: actions[r.IntN(len(actions))], obj: obj,
		}
	}
	return out
}

// projectPolicies100 are generated policies for the 100 projects, three
// members each.
func projectPolicies100() map[string]string {
	out := map[string]string{}
	for i := range 100 {
		p := fmt.Sprintf("proj-%d", i)
		out[p] = ProjectPolicy(p, []Member{
			{MemberUser, fmt.Sprintf("user-%d", (i+1)%100), ProjectAdmin},
			{MemberTeam, fmt.Sprintf("t-%d", (i+2)%100), ProjectMember},
			{MemberUser, fmt.Sprintf("user-%d", (i+3)%100), ProjectViewer},
		})
	}
	return out
}

func enforcer1000(tb testing.TB, withProjects bool) *Enforcer {
	tb.Helper()
	e, err := New(Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := e.SetPolicy(policy1000(), "", ""); err != nil {
		tb.Fatal(err)
	}
	if withProjects {
		if err := e.SetProjectPolicies(projectPolicies100()); err != nil {
			tb.Fatal(err)
		}
	}
	return e
}

func BenchmarkEnforce1000(b *testing.B) {
	e := enforcer1000(b, false)
	reqs := requestMix(4096, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q := &reqs[i%len(reqs)]
		e.Enforce(q.subjects, q.res, q.act, q.obj)
	}
}

func BenchmarkEnforce1000Parallel(b *testing.B) {
	e := enforcer1000(b, true)
	reqs := requestMix(4096, 2)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			q := &reqs[i%len(reqs)]
			e.Enforce(q.subjects, q.res, q.act, q.obj)
			i++
		}
	})
}

// BenchmarkCasbinEnforce1000 is casbin's Enforce over the same policy, one
// call per subject as Argo CD does, for comparison with BenchmarkEnforce1000.
func BenchmarkCasbinEnforce1000(b *testing.B) {
	e := enforcer1000(b, false)
	oracle := newOracle(b, e.sources(policy1000(), MatchGlob, nil), "")
	reqs := requestMix(4096, 1)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q := &reqs[i%len(reqs)]
		oracle.decide(b, q.subjects, q.res, q.act, q.obj)
	}
}

// BenchmarkSetPolicy1000 is the cost of a reload: parse, compile, resolve
// roles, swap.
func BenchmarkSetPolicy1000(b *testing.B) {
	e := enforcer1000(b, true)
	policy := policy1000()
	b.ReportAllocs()
	for b.Loop() {
		if err := e.SetPolicy(policy, "", ""); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecisionLatency measures single decisions over 100k requests and prints
// the percentiles. It asserts nothing about time (machines differ); the target
// is p99 <= 50 µs with 1,000 policy lines.
func TestDecisionLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	for _, withProjects := range []bool{false, true} {
		e := enforcer1000(t, withProjects)
		reqs := requestMix(100_000, 3)
		lat := make([]time.Duration, len(reqs))
		allowed := 0
		for i := range reqs {
			q := &reqs[i]
			start := time.Now()
			ok := e.Enforce(q.subjects, q.res, q.act, q.obj)
			lat[i] = time.Since(start)
			if ok {
				allowed++
			}
		}
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
		t.Logf("%d policy lines (project policies: %v): %d decisions, %d allowed: p50 %v, p90 %v, p99 %v, p99.9 %v, max %v",
			e.current.Load().lines, withProjects, len(reqs), allowed, pct(.50), pct(.90), pct(.99), pct(.999), lat[len(lat)-1])
	}
}
