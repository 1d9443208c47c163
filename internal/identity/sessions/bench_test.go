package sessions

import (
	"context"
	"testing"
)

// The login target is ≤ 100 ms p50 from password to tokens:
// CheckPassword + Issue. Verify runs on every API request.

func BenchmarkCheckPassword(b *testing.B) {
	hash, err := HashPassword("correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !CheckPassword(hash, "correct horse battery") {
			b.Fatal("refused")
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	env := newTestEnv(b, Config{})
	ctx := context.Background()
	sub := Subject{User: "alice", Groups: []string{"dev", "ops"}}
	for b.Loop() {
		if _, err := env.mgr.Issue(ctx, sub); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	env := newTestEnv(b, Config{})
	ctx := context.Background()
	pair, err := env.mgr.Issue(ctx, Subject{User: "alice", Groups: []string{"dev", "ops"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.mgr.Verify(ctx, pair.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}
