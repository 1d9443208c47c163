package rbac

import "fmt"

// PermissionDeniedError is a refused decision. The HTTP layer maps it to 403
// (errors.As); its message says who could not do what, in policy terms.
type PermissionDeniedError struct {
	User     string
	Resource string
	Action   string
	Object   string
}

func (e *PermissionDeniedError) Error() string {
	user := e.User
	if user == "" {
		user = "anonymous"
	}
	msg := fmt.Sprintf("permission denied: %s cannot %s %s", user, e.Action, e.Resource)
	if e.Object != "" {
		msg += " " + e.Object
	}
	return msg
}

// Denied returns the error for a refused decision, e.g.
// "permission denied: alice cannot sync applications default/web".
func Denied(user, resource, action, object string) error {
	return &PermissionDeniedError{User: user, Resource: resource, Action: action, Object: object}
}
