package vcapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/podsecurity"
)

// Who may choose a virtual cluster's Pod Security level: anyone who may
// create or update the cluster may make it as strict as they like, or as the
// project's; a level looser than the project's (privileged under a baseline
// project) takes a gantry administrator, as the project's own level does.

// podSecurityRefusal says why a caller may not give a virtual cluster of
// project p the level (already valid; "" follows the project), or "" when they
// may. admin is api.Caller.IsAdmin: the right to delete every project, which
// only administrators hold.
func podSecurityRefusal(admin bool, p *platformv1alpha1.Project, level podsecurity.Level) string {
	projectLevel := podsecurity.ProjectLevel(p)
	if level == "" || !podsecurity.Looser(level, projectLevel) || admin {
		return ""
	}
	return fmt.Sprintf("podSecurity %s is looser than project %s's level, %s: only a gantry administrator may set it; "+
		"choose %s or stricter, or ask an administrator", level, p.Name, projectLevel, projectLevel)
}

// parsePodSecurity reads the podSecurity of a PATCH: a level, or null or "" to
// follow the project again. set says whether the field was sent at all.
func parsePodSecurity(raw json.RawMessage) (level podsecurity.Level, set bool, err error) {
	if len(raw) == 0 {
		return "", false, nil
	}
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, fmt.Errorf("podSecurity must be privileged, baseline, restricted, or null to follow the project")
	}
	if s == nil || *s == "" {
		return "", true, nil
	}
	level, err = podsecurity.Parse(*s)
	return level, true, err
}

// mayChoosePodSecurity answers 403 (or 404, 500) and returns false when the
// caller may not give a virtual cluster of project p the level; "" (follow
// the project) is always allowed.
func (c *call) mayChoosePodSecurity(p string, level podsecurity.Level) bool {
	if level == "" {
		return true
	}
	proj := &platformv1alpha1.Project{}
	if err := c.api.Client.Get(c.ctx(), client.ObjectKey{Name: p}, proj); err != nil {
		if apierrors.IsNotFound(err) {
			c.error(http.StatusNotFound, fmt.Sprintf("project %s does not exist", p))
		} else {
			c.error(http.StatusInternalServerError, fmt.Sprintf("reading project %s for its Pod Security level: %v", p, err))
		}
		return false
	}
	if msg := podSecurityRefusal(c.caller.IsAdmin(), proj, level); msg != "" {
		c.error(http.StatusForbidden, msg)
		return false
	}
	return true
}
