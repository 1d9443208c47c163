package appapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
	"gantry.dev/gantry/internal/project"
)

// post sends a JSON body as token.
func (f *fixture) post(token, path, body string) (int, string) {
	f.t.Helper()
	r := f.Do(token, http.MethodPost, path, body)
	return r.Code, r.Body
}

// clearOperation does the controller's part of taking an operation.
func (f *fixture) clearOperation(p, name string) {
	f.t.Helper()
	app := f.app(p, name)
	if err := f.Direct.Patch(context.Background(), app, client.RawPatch("application/merge-patch+json", []byte(`{"operation":null}`))); err != nil {
		f.t.Fatal(err)
	}
	f.Eventually("the cache to see the operation taken", func() bool {
		cur := &gitopsv1alpha1.Application{}
		return f.api.Client.Get(context.Background(), client.ObjectKeyFromObject(app), cur) == nil && cur.Operation == nil
	})
}

// TestOperationsRecordTheCaller: a sync or rollback records who asked (the
// authenticated user, whatever the body says) and the request's infos; a
// caller without sync rights on the app's project changes nothing.
func TestOperationsRecordTheCaller(t *testing.T) {
	f := newFixture(t)
	ns := project.Namespace(f.A)
	path := Prefix + "/one/sync?appNamespace=" + ns

	code, body := f.post("bob", path, `{"prune":true}`)
	if code != http.StatusForbidden || !strings.Contains(body, "permission denied") {
		t.Fatalf("bob syncing an app of %s: %d %s", f.A, code, body)
	}
	if f.app(f.A, "one").Operation != nil {
		t.Fatal("a refused sync set an operation")
	}

	code, body = f.post("alice", path, `{"prune":true,"infos":[{"name":"request","value":"r1"}],"initiatedBy":{"username":"admin"}}`)
	if code != http.StatusOK {
		t.Fatalf("alice's sync: %d %s", code, body)
	}
	op := f.app(f.A, "one").Operation
	if op == nil || op.InitiatedBy.Username != "alice" || op.InitiatedBy.Automated || !op.Sync.Prune ||
		len(op.Info) != 1 || op.Info[0] != (gitopsv1alpha1.Info{Name: "request", Value: "r1"}) {
		t.Fatalf("alice's sync operation: %+v", op)
	}
	if code, body := f.post("alice", path, `{}`); code != http.StatusConflict {
		t.Fatalf("a second sync while one is pending: %d %s", code, body)
	}
	f.clearOperation(f.A, "one")

	// A rollback to a history entry, as alice.
	app := f.app(f.A, "one")
	app.Status.History = []gitopsv1alpha1.RevisionHistory{{ID: 1, Revision: "abc123", DeployedAt: metav1.Now(),
		Source: &gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example.com/x.git", Path: "app"}}}
	if err := f.Direct.Status().Update(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	f.Eventually("the cache to see the history", func() bool {
		cur := &gitopsv1alpha1.Application{}
		return f.api.Client.Get(context.Background(), client.ObjectKeyFromObject(app), cur) == nil && len(cur.Status.History) == 1
	})
	rollback := Prefix + "/one/rollback?appNamespace=" + ns
	if code, body := f.post("bob", rollback, `{"id":1}`); code != http.StatusForbidden {
		t.Fatalf("bob's rollback: %d %s", code, body)
	}
	if code, body := f.post("alice", rollback, `{"id":1,"infos":[{"name":"request","value":"r2"}]}`); code != http.StatusOK {
		t.Fatalf("alice's rollback: %d %s", code, body)
	}
	op = f.app(f.A, "one").Operation
	if op == nil || op.InitiatedBy.Username != "alice" || op.Sync.Revision != "abc123" || len(op.Info) != 1 || op.Info[0].Value != "r2" {
		t.Fatalf("alice's rollback operation: %+v", op)
	}

	// An operation set a moment ago by someone else, which the cache may not
	// hold yet, is refused rather than overwritten.
	f.clearOperation(f.A, "one")
	for i := 0; i < 5; i++ {
		if err := f.Direct.Patch(context.Background(), f.app(f.A, "one"), client.RawPatch("application/merge-patch+json",
			[]byte(`{"operation":{"sync":{"revision":"carols"},"initiatedBy":{"username":"carol"}}}`))); err != nil {
			t.Fatal(err)
		}
		if code, body := f.post("alice", path, `{}`); code != http.StatusConflict {
			t.Fatalf("a sync right after carol's: %d %s", code, body)
		}
		if op := f.app(f.A, "one").Operation; op == nil || op.InitiatedBy.Username != "carol" {
			t.Fatalf("carol's operation was overwritten: %+v", op)
		}
		f.clearOperation(f.A, "one")
	}
}
