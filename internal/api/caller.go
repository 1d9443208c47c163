package api

import (
	"fmt"
	"net/http"

	"gantry.dev/gantry/internal/identity/authn"
	"gantry.dev/gantry/internal/identity/rbac"
	"gantry.dev/gantry/internal/jsonapi"
)

// Caller is the authenticated caller of a request.
type Caller struct {
	authn.Identity
	auth       Authenticator
	authorize  Authorize
	bearerOnly bool
}

// Object is what an action is on, for RBAC and for an access key's scope.
// Make one with InProject, VirtualCluster, ProjectItself or Global.
type Object struct {
	project, name string
	// vcluster is the virtual cluster a key scoped to one may reach it through.
	vcluster string
	kind     objectKind
}

type objectKind int

const (
	inProject objectKind = iota
	projectItself
	global
)

// InProject is a project's object, "<project>/<name>" in RBAC: an
// Application, an ApplicationSet, a virtual cluster about to be created. A key
// scoped to one virtual cluster does not reach it.
func InProject(project, name string) Object { return Object{project: project, name: name} }

// VirtualCluster is an existing virtual cluster, "<project>/<name>" in RBAC,
// which a key scoped to it reaches too.
func VirtualCluster(project, name string) Object {
	return Object{project: project, name: name, vcluster: name}
}

// ProjectItself is the project name, "<name>" in RBAC (resource projects).
func ProjectItself(name string) Object { return Object{project: name, kind: projectItself} }

// Global is an object outside every project (users, teams, OIDC clients,
// access keys, clusters): "<name>" in RBAC, and out of reach of any scoped key.
func Global(name string) Object { return Object{name: name, kind: global} }

// String is the object as RBAC names it.
func (o Object) String() string {
	switch o.kind {
	case projectItself:
		return o.project
	case global:
		return o.name
	}
	return rbac.ProjectObject(o.project, o.name)
}

// Can says whether the caller may do action on resource's object o: an access
// key's scope first, then RBAC. A refusal is a 403 jsonapi.StatusError that
// names what was refused, the same for every route.
func (c *Caller) Can(resource, action string, o Object) error {
	if !c.inScope(o) {
		msg := fmt.Sprintf("this access key is scoped to %s: it cannot %s %s %s", c.describeScope(), action, resource, o)
		if o.kind == global {
			msg += ", which belong to no project: use a key without a scope, or log in"
		} else {
			msg += ": use a key for that project (gantry accesskey create), or log in"
		}
		return jsonapi.Errorf(http.StatusForbidden, "%s", msg)
	}
	if c.authorize == nil {
		return jsonapi.Errorf(http.StatusForbidden, "no authorization is configured: nothing is allowed")
	}
	if err := c.authorize(c.Subjects(), resource, action, o.String()); err != nil {
		return jsonapi.Errorf(http.StatusForbidden, "%s", err.Error())
	}
	return nil
}

// May is Can for filters (lists, streams): what the caller may not see is
// left out, not refused.
func (c *Caller) May(resource, action string, o Object) bool {
	return c.Can(resource, action, o) == nil
}

// IsAdmin says whether the caller is one of gantry's administrators (may
// delete any project), whatever an access key's scope: the scope narrows
// which objects a key reaches, not who its owner is.
func (c *Caller) IsAdmin() bool {
	return c.authorize != nil && c.authorize(c.Subjects(), rbac.ResourceProjects, rbac.ActionDelete, "*") == nil
}

// Refresh authenticates r again, as the route did: long-lived answers
// (streams) call it now and then, so that an expired session or a user since
// disabled ends them. Groups are read anew.
func (c *Caller) Refresh(r *http.Request) error {
	if c.auth == nil {
		return authn.ErrNoCredentials
	}
	if c.bearerOnly && len(r.Cookies()) > 0 {
		r = r.Clone(r.Context())
		r.Header.Del("Cookie")
	}
	id, err := c.auth.Authenticate(r)
	if err != nil {
		return err
	}
	c.Identity = id
	return nil
}

func (c *Caller) inScope(o Object) bool {
	switch o.kind {
	case global:
		return c.Scope.Project == ""
	case projectItself:
		return c.InScope(o.project, "")
	}
	return c.InScope(o.project, o.vcluster)
}

func (c *Caller) describeScope() string {
	if c.Scope.VirtualCluster != "" {
		return "virtual cluster " + c.Scope.Project + "/" + c.Scope.VirtualCluster
	}
	return "project " + c.Scope.Project
}
