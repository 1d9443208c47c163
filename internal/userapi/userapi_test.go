package userapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/identity/users"
)

// cleanupUser deletes a user the test makes, with its password Secret.
func (f *fixture) cleanupUser(t *testing.T, name string) {
	t.Cleanup(func() {
		_ = f.c.Delete(context.Background(), &platformv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: name}})
		_ = f.c.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: users.SecretName(name), Namespace: f.api.Namespace}})
	})
}

func (f *fixture) user(t *testing.T, name string) *platformv1alpha1.User {
	t.Helper()
	u := &platformv1alpha1.User{}
	if err := f.c.Get(context.Background(), client.ObjectKey{Name: name}, u); err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *fixture) checkPassword(t *testing.T, user, password string) bool {
	t.Helper()
	ok, err := users.CheckPassword(context.Background(), f.c, f.api.Namespace, user, password)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestUnauthenticated(t *testing.T) {
	f := setup(t)
	for _, tok := range []string{"", "not-a-token"} {
		f.call(t, http.MethodGet, UsersPrefix, tok, nil).Want(t, http.StatusUnauthorized, "Unauthorized")
		f.call(t, http.MethodGet, UsersPrefix+"/alice", tok, nil).Want(t, http.StatusUnauthorized, "")
		f.call(t, http.MethodPost, UsersPrefix, tok, map[string]any{"name": "u-x"}).Want(t, http.StatusUnauthorized, "")
		f.call(t, http.MethodPost, UsersPrefix+"/alice/password", tok, map[string]any{"password": "0123456789ab"}).Want(t, http.StatusUnauthorized, "")
		f.call(t, http.MethodGet, TeamsPrefix, tok, nil).Want(t, http.StatusUnauthorized, "")
	}
	if f.exists(t, &platformv1alpha1.User{}, "u-x") {
		t.Fatal("an unauthenticated create wrote a user")
	}
}

func TestUserVisibility(t *testing.T) {
	f := setup(t)
	list := func(tok string) []string {
		r := f.call(t, http.MethodGet, UsersPrefix, tok, nil)
		r.Want(t, http.StatusOK, "")
		return slices.DeleteFunc(r.Names(), func(n string) bool { return n != "admin" && n != "alice" && n != "bob" })
	}
	for tok, want := range map[string][]string{
		tAdmin:    {"admin", "alice", "bob"},
		tAlice:    {"alice"}, // herself only
		tAliceKey: {"alice"},
		tAdminKey: {"admin"}, // a scoped key: itself only, whoever owns it
	} {
		if got := list(tok); !slices.Equal(got, want) {
			t.Errorf("%s lists %v, want %v", tok, got, want)
		}
	}
	r := f.call(t, http.MethodGet, UsersPrefix+"/alice", tAlice, nil)
	r.Want(t, http.StatusOK, "")
	if r.JSON["name"] != "alice" || r.JSON["username"] != "alice" || r.JSON["passwordSet"] != false {
		t.Errorf("alice: %s", r.Body)
	}
	f.call(t, http.MethodGet, UsersPrefix+"/alice", tAliceKey, nil).Want(t, http.StatusOK, "")
	f.call(t, http.MethodGet, UsersPrefix+"/bob", tAlice, nil).Want(t, http.StatusForbidden, "alice cannot get users bob")
	f.call(t, http.MethodGet, UsersPrefix+"/bob", tAdminKey, nil).Want(t, http.StatusForbidden, "scoped to project shop")
	f.call(t, http.MethodGet, UsersPrefix+"/nobody", tAlice, nil).Want(t, http.StatusForbidden, "")
	f.call(t, http.MethodGet, UsersPrefix+"/nobody", tAdmin, nil).Want(t, http.StatusNotFound, "user nobody not found")
}

func TestCreateUser(t *testing.T) {
	f := setup(t)
	f.cleanupUser(t, "u-carol")
	const pw = "correct horse battery"
	body := map[string]any{"name": "u-carol", "email": "carol@example.com", "displayName": "Carol", "groups": []any{"sso:devs", "sso:devs", "ops"}, "password": pw}

	f.call(t, http.MethodPost, UsersPrefix, tAlice, body).Want(t, http.StatusForbidden, "alice cannot create users u-carol")
	f.call(t, http.MethodPost, UsersPrefix, tAdminKey, body).Want(t, http.StatusForbidden, "scoped")
	if f.exists(t, &platformv1alpha1.User{}, "u-carol") {
		t.Fatal("a refused create wrote the user")
	}

	r := f.call(t, http.MethodPost, UsersPrefix, tAdmin, body)
	r.Want(t, http.StatusCreated, "")
	if strings.Contains(r.Body, pw) || strings.Contains(strings.ToLower(r.Body), "hash") || strings.Contains(r.Body, "$2a$") {
		t.Fatalf("the password or its hash is in the answer: %s", r.Body)
	}
	if r.JSON["passwordSet"] != true || r.JSON["email"] != "carol@example.com" {
		t.Errorf("answer: %s", r.Body)
	}
	u := f.user(t, "u-carol")
	if u.Spec.Username != "u-carol" || u.Spec.Email != "carol@example.com" || u.Spec.DisplayName != "Carol" ||
		!slices.Equal(u.Spec.Groups, []string{"sso:devs", "ops"}) || u.Spec.Disabled {
		t.Errorf("stored: %+v", u.Spec)
	}
	if !f.checkPassword(t, "u-carol", pw) {
		t.Error("the stored hash does not match the password")
	}
	f.call(t, http.MethodPost, UsersPrefix, tAdmin, body).Want(t, http.StatusConflict, "user u-carol already exists")

	for _, c := range []struct {
		name string
		body any
		code int
		msg  string
	}{
		{"bad name", map[string]any{"name": "Bad Name"}, http.StatusBadRequest, `user name "Bad Name"`},
		{"no name", map[string]any{"email": "x@example.com"}, http.StatusBadRequest, `no "name"`},
		{"short password", map[string]any{"name": "u-x", "password": "short"}, http.StatusBadRequest, "at least 8"},
		{"password is the name", map[string]any{"name": "u-xxxxxxxx", "password": "u-xxxxxxxx"}, http.StatusBadRequest, "user name"},
		{"unknown field", `{"name": "u-x", "pasword": "0123456789ab"}`, http.StatusBadRequest, `unknown field "pasword"`},
		{"reserved group", map[string]any{"name": "u-x", "groups": []any{"gantry:project:shop:project-admin"}}, http.StatusBadRequest, `reserved prefix "gantry:"`},
		{"Kubernetes' group", map[string]any{"name": "u-x", "groups": []any{"dev", "system:masters"}}, http.StatusBadRequest, `group "system:masters": groups starting with "system:" are Kubernetes' own`},
		{"empty group", map[string]any{"name": "u-x", "groups": []any{""}}, http.StatusBadRequest, "groups[0]"},
		{"bad email", map[string]any{"name": "u-x", "email": "carol at example"}, http.StatusBadRequest, "not an email address"},
	} {
		r := f.call(t, http.MethodPost, UsersPrefix, tAdmin, c.body)
		r.Want(t, c.code, c.msg)
		if strings.Contains(r.Body, "0123456789ab") {
			t.Fatalf("%s: the password is in the answer: %s", c.name, r.Body)
		}
		if f.exists(t, &platformv1alpha1.User{}, "u-x") || f.exists(t, &platformv1alpha1.User{}, "u-xxxxxxxx") {
			t.Fatalf("%s: a user was written", c.name)
		}
	}

	// Without a password: none set, and a Secret an earlier u-sso left behind
	// does not hand its password to the new one.
	f.cleanupUser(t, "u-sso")
	if err := users.SetPassword(context.Background(), f.c, f.api.Namespace, "u-sso", "an old password"); err != nil {
		t.Fatal(err)
	}
	r = f.call(t, http.MethodPost, UsersPrefix, tAdmin, map[string]any{"name": "u-sso"})
	r.Want(t, http.StatusCreated, "")
	if r.JSON["passwordSet"] != false {
		t.Errorf("answer: %s", r.Body)
	}
	if f.checkPassword(t, "u-sso", "an old password") {
		t.Error("a stale password Secret survived the creation of a user without a password")
	}
}

func TestUpdateUser(t *testing.T) {
	f := setup(t)
	f.cleanupUser(t, "u-dave")
	f.call(t, http.MethodPost, UsersPrefix, tAdmin, map[string]any{"name": "u-dave", "displayName": "Dave"}).Want(t, http.StatusCreated, "")

	f.call(t, http.MethodPatch, UsersPrefix+"/u-dave", tAlice, map[string]any{"disabled": true}).Want(t, http.StatusForbidden, "alice cannot update users u-dave")
	f.call(t, http.MethodPatch, UsersPrefix+"/alice", tAlice, map[string]any{"groups": []any{"ops"}}).Want(t, http.StatusForbidden, "alice cannot update users alice")
	f.call(t, http.MethodPatch, UsersPrefix+"/u-dave", tAdminKey, map[string]any{"disabled": true}).Want(t, http.StatusForbidden, "scoped")
	f.call(t, http.MethodPatch, UsersPrefix+"/u-dave", tAdmin, `{"Disabled": true}`).Want(t, http.StatusBadRequest, `unknown field "Disabled"`)
	f.call(t, http.MethodPatch, UsersPrefix+"/u-dave", tAdmin, map[string]any{"groups": []any{"role:admin"}}).Want(t, http.StatusBadRequest, "reserved prefix")
	f.call(t, http.MethodPatch, UsersPrefix+"/u-dave", tAdmin, map[string]any{"groups": []any{"system:authenticated"}}).Want(t, http.StatusBadRequest, `group "system:authenticated"`)
	f.call(t, http.MethodPatch, UsersPrefix+"/admin", tAdmin, map[string]any{"disabled": true}).Want(t, http.StatusBadRequest, "cannot disable yourself")
	if u := f.user(t, "u-dave"); u.Spec.Disabled || len(u.Spec.Groups) != 0 {
		t.Fatalf("a refused update wrote: %+v", u.Spec)
	}

	r := f.call(t, http.MethodPut, UsersPrefix+"/u-dave", tAdmin, map[string]any{"email": "dave@example.com", "groups": []any{"ops"}, "disabled": true})
	r.Want(t, http.StatusOK, "")
	if r.JSON["disabled"] != true {
		t.Errorf("answer: %s", r.Body)
	}
	if u := f.user(t, "u-dave"); u.Spec.Email != "dave@example.com" || u.Spec.DisplayName != "Dave" || !slices.Equal(u.Spec.Groups, []string{"ops"}) || !u.Spec.Disabled {
		t.Errorf("stored: %+v", u.Spec)
	}
	f.call(t, http.MethodPatch, UsersPrefix+"/u-dave", tAdmin, `{"displayName": null, "groups": null, "disabled": false}`).Want(t, http.StatusOK, "")
	if u := f.user(t, "u-dave"); u.Spec.DisplayName != "" || u.Spec.Groups != nil || u.Spec.Disabled || u.Spec.Email != "dave@example.com" {
		t.Errorf("after clearing: %+v", u.Spec)
	}
	f.call(t, http.MethodPatch, UsersPrefix+"/u-nobody", tAdmin, map[string]any{"displayName": "x"}).Want(t, http.StatusNotFound, "user u-nobody not found")
}

func TestPassword(t *testing.T) {
	f := setup(t)
	f.cleanupUser(t, "u-erin")
	const first, second, third = "first password", "second password", "third password"
	f.call(t, http.MethodPost, UsersPrefix, tAdmin, map[string]any{"name": "u-erin", "password": first}).Want(t, http.StatusCreated, "")
	path := UsersPrefix + "/u-erin/password"
	var answers []string
	call := func(tok string, body any, code int, msg string) {
		t.Helper()
		r := f.call(t, http.MethodPost, path, tok, body)
		r.Want(t, code, msg)
		answers = append(answers, r.Body)
	}

	// By herself: with the current password only.
	call(tErin, map[string]any{"password": second}, http.StatusBadRequest, "currentPassword")
	call(tErin, map[string]any{"password": second, "currentPassword": "wrong password"}, http.StatusForbidden, "not your current password")
	call(tErin, map[string]any{"password": "short", "currentPassword": first}, http.StatusBadRequest, "at least 8")
	if !f.checkPassword(t, "u-erin", first) {
		t.Fatal("a refused change changed the password")
	}
	call(tErin, map[string]any{"password": second, "currentPassword": first}, http.StatusOK, "")
	if !f.checkPassword(t, "u-erin", second) {
		t.Fatal("her own change did not take")
	}
	// Not by another user, nor a scoped key.
	call(tAlice, map[string]any{"password": third}, http.StatusForbidden, "only u-erin themselves or an administrator")
	call(tAlice, map[string]any{"password": third, "currentPassword": second}, http.StatusForbidden, "")
	call(tAdminKey, map[string]any{"password": third}, http.StatusForbidden, "scoped")
	// By an administrator, without the current one.
	call(tAdmin, map[string]any{"password": third}, http.StatusOK, "")
	if !f.checkPassword(t, "u-erin", third) {
		t.Fatal("the administrator's change did not take")
	}
	call(tAdmin, `{"password": "fourth password", "extra": true}`, http.StatusBadRequest, `unknown field "extra"`)
	f.call(t, http.MethodPost, UsersPrefix+"/u-nobody/password", tAdmin, map[string]any{"password": third}).Want(t, http.StatusNotFound, "user u-nobody not found")

	// Guessing the current password is limited like logins.
	for range 3 {
		call(tErin, map[string]any{"password": "fifth password", "currentPassword": "guess"}, http.StatusForbidden, "")
	}
	r := f.call(t, http.MethodPost, path, tErin, map[string]any{"password": "fifth password", "currentPassword": third})
	r.Want(t, http.StatusTooManyRequests, "too many")
	answers = append(answers, r.Body)

	// The local admin token may reset the admin's own password without it.
	call2 := f.call(t, http.MethodPost, UsersPrefix+"/admin/password", tAdminToken, map[string]any{"password": "admin password"})
	call2.Want(t, http.StatusOK, "")
	f.call(t, http.MethodPost, UsersPrefix+"/admin/password", tAdmin, map[string]any{"password": "admin password 2"}).Want(t, http.StatusBadRequest, "currentPassword")
	answers = append(answers, call2.Body)

	for _, a := range answers {
		for _, pw := range []string{first, second, third, "admin password", "$2a$"} {
			if strings.Contains(a, pw) {
				t.Fatalf("an answer holds a password or hash: %s", a)
			}
		}
	}
}

func TestDeleteUser(t *testing.T) {
	f := setup(t)
	f.cleanupUser(t, "u-frank")
	f.call(t, http.MethodPost, UsersPrefix, tAdmin, map[string]any{"name": "u-frank", "password": "frank's password"}).Want(t, http.StatusCreated, "")

	f.call(t, http.MethodDelete, UsersPrefix+"/u-frank", tAlice, nil).Want(t, http.StatusForbidden, "alice cannot delete users u-frank")
	f.call(t, http.MethodDelete, UsersPrefix+"/u-frank", tAdminKey, nil).Want(t, http.StatusForbidden, "scoped")
	f.call(t, http.MethodDelete, UsersPrefix+"/admin", tAdmin, nil).Want(t, http.StatusBadRequest, "the admin user cannot be deleted")
	if !f.exists(t, &platformv1alpha1.User{}, "u-frank") {
		t.Fatal("a refused delete deleted")
	}
	f.call(t, http.MethodDelete, UsersPrefix+"/u-frank", tAdmin, nil).Want(t, http.StatusOK, "")
	if f.exists(t, &platformv1alpha1.User{}, "u-frank") {
		t.Fatal("the user is still there")
	}
	s := &corev1.Secret{}
	if err := f.c.Get(context.Background(), client.ObjectKey{Namespace: f.api.Namespace, Name: users.SecretName("u-frank")}, s); err == nil {
		t.Fatal("the password Secret is still there")
	}
	f.call(t, http.MethodDelete, UsersPrefix+"/u-frank", tAdmin, nil).Want(t, http.StatusNotFound, "user u-frank not found")
}

func TestTeams(t *testing.T) {
	f := setup(t)
	t.Cleanup(func() {
		_ = f.c.Delete(context.Background(), &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "t-web"}})
	})
	team := func() *platformv1alpha1.Team {
		tm := &platformv1alpha1.Team{}
		if err := f.c.Get(context.Background(), client.ObjectKey{Name: "t-web"}, tm); err != nil {
			t.Fatal(err)
		}
		return tm
	}
	body := map[string]any{"name": "t-web", "displayName": "Web", "users": []any{"alice"}, "groups": []any{"sso:web"}}
	f.call(t, http.MethodPost, TeamsPrefix, tAlice, body).Want(t, http.StatusForbidden, "alice cannot create teams t-web")
	f.call(t, http.MethodPost, TeamsPrefix, tAdminKey, body).Want(t, http.StatusForbidden, "scoped")
	for _, c := range []struct {
		body any
		code int
		msg  string
	}{
		{map[string]any{"name": "t-x", "users": []any{"nobody"}}, http.StatusNotFound, "user nobody does not exist"},
		{map[string]any{"name": "T X"}, http.StatusBadRequest, `team name "T X"`},
		{`{"name": "t-x", "members": ["alice"]}`, http.StatusBadRequest, `unknown field "members"`},
		{map[string]any{"users": []any{"alice"}}, http.StatusBadRequest, `no "name"`},
		{map[string]any{"name": "t-x", "groups": []any{"system:masters"}}, http.StatusBadRequest, `group "system:masters": groups starting with "system:"`},
		{map[string]any{"name": "t-x", "groups": []any{"gantry:admins"}}, http.StatusBadRequest, `group "gantry:admins" has the reserved prefix "gantry:"`},
	} {
		f.call(t, http.MethodPost, TeamsPrefix, tAdmin, c.body).Want(t, c.code, c.msg)
	}
	if f.exists(t, &platformv1alpha1.Team{}, "t-web") || f.exists(t, &platformv1alpha1.Team{}, "t-x") {
		t.Fatal("a refused create wrote a team")
	}

	r := f.call(t, http.MethodPost, TeamsPrefix, tAdmin, body)
	r.Want(t, http.StatusCreated, "")
	if tm := team(); tm.Spec.DisplayName != "Web" || !slices.Equal(tm.Spec.Users, []string{"alice"}) || !slices.Equal(tm.Spec.Groups, []string{"sso:web"}) {
		t.Errorf("stored: %+v", tm.Spec)
	}
	f.call(t, http.MethodPost, TeamsPrefix, tAdmin, body).Want(t, http.StatusConflict, "team t-web already exists")

	// Teams show on their users.
	r = f.call(t, http.MethodGet, UsersPrefix+"/alice", tAdmin, nil)
	if !strings.Contains(r.Body, `"teams":["t-web"]`) {
		t.Errorf("alice's teams: %s", r.Body)
	}

	has := func(tok string) bool {
		r := f.call(t, http.MethodGet, TeamsPrefix, tok, nil)
		r.Want(t, http.StatusOK, "")
		return slices.Contains(r.Names(), "t-web")
	}
	if !has(tAdmin) || has(tAlice) || has(tAliceKey) {
		t.Error("teams list: admin must see t-web; alice (no teams get) and a scoped key must not")
	}
	f.call(t, http.MethodGet, TeamsPrefix+"/t-web", tAlice, nil).Want(t, http.StatusForbidden, "alice cannot get teams t-web")
	f.call(t, http.MethodGet, TeamsPrefix+"/t-web", tAdmin, nil).Want(t, http.StatusOK, "")

	f.call(t, http.MethodPut, TeamsPrefix+"/t-web", tAlice, map[string]any{"users": []any{"alice", "bob"}}).Want(t, http.StatusForbidden, "alice cannot update teams t-web")
	f.call(t, http.MethodPut, TeamsPrefix+"/t-web", tAdmin, map[string]any{"users": []any{"bob", "nobody"}}).Want(t, http.StatusNotFound, "user nobody does not exist")
	f.call(t, http.MethodPatch, TeamsPrefix+"/t-web", tAdmin, map[string]any{"groups": []any{"system:masters"}}).Want(t, http.StatusBadRequest, `group "system:masters"`)
	r = f.call(t, http.MethodPut, TeamsPrefix+"/t-web", tAdmin, map[string]any{"users": []any{"bob", "alice", "bob"}, "displayName": "The web team"})
	r.Want(t, http.StatusOK, "")
	if tm := team(); !slices.Equal(tm.Spec.Users, []string{"bob", "alice"}) || tm.Spec.DisplayName != "The web team" || !slices.Equal(tm.Spec.Groups, []string{"sso:web"}) {
		t.Errorf("stored: %+v", tm.Spec)
	}
	f.call(t, http.MethodPatch, TeamsPrefix+"/t-web", tAdmin, `{"groups": null}`).Want(t, http.StatusOK, "")
	if tm := team(); tm.Spec.Groups != nil || len(tm.Spec.Users) != 2 {
		t.Errorf("after clearing groups: %+v", tm.Spec)
	}

	f.call(t, http.MethodDelete, TeamsPrefix+"/t-web", tAlice, nil).Want(t, http.StatusForbidden, "")
	f.call(t, http.MethodDelete, TeamsPrefix+"/t-web", tAdmin, nil).Want(t, http.StatusOK, "")
	if f.exists(t, &platformv1alpha1.Team{}, "t-web") {
		t.Fatal("the team is still there")
	}
	f.call(t, http.MethodDelete, TeamsPrefix+"/t-web", tAdmin, nil).Want(t, http.StatusNotFound, "team t-web not found")
}

func TestRoutes(t *testing.T) {
	f := setup(t)
	f.call(t, http.MethodPost, UsersPrefix+"/alice", tAdmin, "{}").Want(t, http.StatusMethodNotAllowed, "not supported")
	f.call(t, http.MethodGet, UsersPrefix+"/alice/password", tAdmin, nil).Want(t, http.StatusMethodNotAllowed, "")
	f.call(t, http.MethodGet, UsersPrefix+"/alice/x", tAdmin, nil).Want(t, http.StatusNotFound, "no such API path")
	f.call(t, http.MethodGet, TeamsPrefix+"/a/b", tAdmin, nil).Want(t, http.StatusNotFound, "")
	f.call(t, http.MethodPost, UsersPrefix, tAdmin, `{"name": "u-big", "displayName": "`+strings.Repeat("x", 70<<10)+`"}`).
		Want(t, http.StatusRequestEntityTooLarge, "larger than")
}
