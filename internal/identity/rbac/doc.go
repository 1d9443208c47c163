// Package rbac decides who may do what in gantry, with Argo CD's RBAC model and
// policy syntax so that an argocd-rbac-cm policy.csv works unchanged in
// gantry-rbac-cm.
//
// # Model
//
// The casbin model is Argo CD's (model.conf):
//
//	p, <subject>, <resource>, <action>, <object>, <allow|deny>
//	g, <subject>, <role>
//
// Subjects are users ("alice"), groups ("team:platform", SSO groups,
// "gantry:project:<p>:<role>") and roles ("role:admin", "role:readonly",
// "role:<custom>", "proj:<project>:<role>"). g lines are exact and nest up to
// 10 deep (casbin's default role manager). Resource, action and object are
// patterns: globs without separators by default ("*" matches "a/b"), or
// unanchored regular expressions under policy.matchMode: regex (Argo CD's
// behaviour: "applications" then also matches "applicationsets"; anchor with
// ^...$). A deny on any matching line wins over allows. Resources, their
// actions and object formats are the table returned by Resources().
//
// # Policy parts
//
// The Enforcer holds three parts, loaded in this order:
//
//   - the built-in policy (builtin-policy.csv): role:readonly and role:admin;
//   - the user policy, gantry-rbac-cm's policy.csv, policy.default and
//     policy.matchMode (SetPolicy);
//   - project policies generated from each Project's members by
//     ProjectPolicy (SetProjectPolicies), confined to their project.
//
// Each setter builds a new immutable snapshot aside and swaps an atomic
// pointer: decisions never block on a reload, and a policy that does not parse
// is rejected with the line and the reason while the previous one stays.
// policy.matchMode applies to policy.csv only; the built-in and project
// policies are gantry's own glob text.
//
// # Decisions
//
// Enforce takes the user and their groups together: the default role's allow
// is final (Argo CD: "this access cannot be blocked by a deny rule"); beyond
// it, some subject must be allowed and none denied. Argo CD instead tries the
// user and each group separately, so a deny on one group does not stop an
// allow on another; gantry lets any deny win.
//
// Casbin supplies the model and resolves g lines with its role manager, but a
// decision does not call casbin's Enforce, which evaluates its matcher against
// every p line: milliseconds for a user with two groups at 1,000 lines
// (BenchmarkCasbinEnforce1000), where the target is 50 µs. Each snapshot indexes p
// lines by subject instead, which is exact because g(r.sub, p.sub) is plain
// equality plus inheritance in this model; tests check it against casbin's
// Enforce on the same policy (oracle_test.go and the fuzz test).
//
// # Deliberate differences from Argo CD
//
// Lines Argo CD would load but that can never match are errors: empty
// fields, fields with trailing space, effects other than allow/deny, invalid
// globs or regular expressions.
// The built-in policy does not bind a user "admin" to role:admin; bootstrap
// admins get a g line in policy.csv.
package rbac
