package render

import (
	"os"
	"slices"
	"strings"

	"gantry.dev/gantry/api/gitops/v1alpha1"
)

// buildEnv is Argo CD's build environment, which helm parameters, helm
// value file paths, kustomize images and kustomize commonLabels may refer
// to as $VAR or ${VAR} (e.g. an image tag of $ARGOCD_APP_REVISION).
// ARGOCD_APP_PROJECT_NAME is not known here and expands to "".
func buildEnv(req Request) map[string]string {
	short := func(n int) string {
		if len(req.Revision) > n {
			return req.Revision[:n]
		}
		return req.Revision
	}
	return map[string]string{
		"ARGOCD_APP_NAME":                   req.AppName,
		"ARGOCD_APP_NAMESPACE":              req.Namespace,
		"ARGOCD_APP_REVISION":               req.Revision,
		"ARGOCD_APP_REVISION_SHORT":         short(7),
		"ARGOCD_APP_REVISION_SHORT_8":       short(8),
		"ARGOCD_APP_SOURCE_REPO_URL":        req.Source.RepoURL,
		"ARGOCD_APP_SOURCE_PATH":            req.Source.Path,
		"ARGOCD_APP_SOURCE_TARGET_REVISION": req.Source.TargetRevision,
		"KUBE_VERSION":                      req.KubeVersion,
		"KUBE_API_VERSIONS":                 strings.Join(req.APIVersions, ","),
	}
}

// envsubst expands variables as Argo CD does: unknown variables become ""
// and $$ is a literal $.
func envsubst(env map[string]string, s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	return os.Expand(s, func(name string) string {
		if name == "$" {
			return "$"
		}
		return env[name]
	})
}

// usesEnv reports whether a source refers to build variables, so that the
// cache key must include everything they expand to.
func usesEnv(src *v1alpha1.ApplicationSource) bool {
	var fields []string
	if h := src.Helm; h != nil {
		fields = append(fields, h.ValueFiles...)
		for _, p := range h.Parameters {
			fields = append(fields, p.Value)
		}
		for _, p := range h.FileParameters {
			fields = append(fields, p.Path)
		}
	}
	if d := src.Directory; d != nil && d.Jsonnet != nil {
		for _, v := range append(slices.Clone(d.Jsonnet.ExtVars), d.Jsonnet.TLAs...) {
			fields = append(fields, v.Value)
		}
	}
	if k := src.Kustomize; k != nil {
		fields = append(fields, k.Images...)
		for _, v := range k.CommonLabels {
			fields = append(fields, v)
		}
		if k.CommonAnnotationsEnvsubst {
			for _, v := range k.CommonAnnotations {
				fields = append(fields, v)
			}
		}
	}
	for _, f := range fields {
		if strings.Contains(f, "$") {
			return true
		}
	}
	return false
}
