package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/strvals"
)

// helmValues assembles the values of a Helm source in the order Argo CD
// hands them to `helm template`: the value files in order, then values
// (or valuesObject, which replaces values when set) as one more values
// file, then parameters as --set, those with forceString as --set-string
// and fileParameters as --set-file (Helm applies all --set, then all
// --set-string, then all --set-file). Later sources win, maps merge deeply,
// as in Helm. Value file paths and parameter values may use Argo CD's build
// variables (buildEnv).
func helmValues(req Request, files valueFileReader) (map[string]any, error) {
	h := req.Source.Helm
	base := map[string]any{}
	if h == nil {
		return base, nil
	}
	files.refs = req.RefSources
	env := buildEnv(req)
	for _, vf := range h.ValueFiles {
		vf = expandValueFile(env, req.RefSources, vf)
		data, err := files.read(vf)
		if errors.Is(err, fs.ErrNotExist) && h.IgnoreMissingValueFiles {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("helm.valueFiles: %w", err)
		}
		vals, err := loader.LoadValues(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("helm.valueFiles: %s: %w", vf, err)
		}
		base = loader.MergeMaps(base, vals)
	}

	var inline []byte
	field := "helm.values"
	switch {
	case h.ValuesObject != nil && len(h.ValuesObject.Raw) > 0:
		inline, field = h.ValuesObject.Raw, "helm.valuesObject"
	case h.ValuesObject != nil && h.ValuesObject.Object != nil:
		var err error
		if inline, err = json.Marshal(h.ValuesObject.Object); err != nil {
			return nil, fmt.Errorf("helm.valuesObject: %w", err)
		}
		field = "helm.valuesObject"
	default:
		inline = []byte(h.Values)
	}
	if len(bytes.TrimSpace(inline)) > 0 {
		vals, err := loader.LoadValues(bytes.NewReader(inline))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		base = loader.MergeMaps(base, vals)
	}

	for _, forceString := range []bool{false, true} {
		for _, p := range h.Parameters {
			if p.ForceString != forceString {
				continue
			}
			set := p.Name + "=" + escapeSetValue(envsubst(env, p.Value))
			parse := strvals.ParseInto
			if forceString {
				parse = strvals.ParseIntoString
			}
			if err := parse(set, base); err != nil {
				return nil, fmt.Errorf("helm.parameters: %s: %w", p.Name, err)
			}
		}
	}
	for _, p := range h.FileParameters {
		file := expandValueFile(env, req.RefSources, p.Path)
		read := func([]rune) (any, error) {
			data, err := files.read(file)
			return string(data), err
		}
		// The path goes to read above, not through strvals' parsing, so a
		// comma or an equals sign in it stays part of the path.
		if err := strvals.ParseIntoFile(p.Name+"=file", base, read); err != nil {
			return nil, fmt.Errorf("helm.fileParameters: %s: %w", p.Name, err)
		}
	}
	return base, nil
}

// expandValueFile substitutes build variables in a value file path, after
// the $ref prefix when there is one (as Argo CD does), so that $values is
// not taken for an unset variable.
func expandValueFile(env map[string]string, refs map[string]RefSource, vf string) string {
	if strings.HasPrefix(vf, "$") {
		name, rest, found := strings.Cut(vf[1:], "/")
		_, isRef := refs[name]
		_, isVar := env[strings.Trim(name, "{}")]
		if isRef || !isVar {
			if !found {
				return vf
			}
			return "$" + name + "/" + envsubst(env, rest)
		}
	}
	return envsubst(env, vf)
}

// escapeSetValue escapes the commas of a parameter value, as Argo CD does,
// so that "a,b" is one value rather than two assignments; a value in braces
// is a Helm list and is left alone.
func escapeSetValue(v string) string {
	if strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}") {
		return v
	}
	var b strings.Builder
	for i, c := range v {
		if c == ',' && (i == 0 || v[i-1] != '\\') {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// valueFileReader reads helm.valueFiles entries: paths relative to the
// chart, paths starting with / relative to the repository root, and
// $ref/path into the checkout of another source. For a chart from a Helm
// repository, relative paths name files inside the chart archive. Remote
// URLs are refused: the render would depend on more than the revisions it
// is keyed by.
type valueFileReader struct {
	root     string       // repository root; "" for a chart from a Helm repository
	chartDir string       // chart directory in the repository
	chart    *chart.Chart // the chart, for a chart from a Helm repository
	refs     map[string]RefSource
}

func (v valueFileReader) read(name string) ([]byte, error) {
	if strings.Contains(name, "://") {
		return nil, fmt.Errorf("%s: remote value files are not supported; put the file in a Git source and use $ref/path", name)
	}
	if strings.HasPrefix(name, "$") {
		refName, rel, _ := strings.Cut(name[1:], "/")
		ref, ok := v.refs[refName]
		if !ok {
			return nil, fmt.Errorf("%s: no source of this application has ref %q", name, refName)
		}
		if rel == "" {
			return nil, fmt.Errorf("%s: a path into source $%s is needed", name, refName)
		}
		root, err := resolveRoot(ref.Dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return readConfined(root, filepath.Join(root, filepath.FromSlash(rel)), name)
	}
	if v.chart != nil {
		want := path.Clean(strings.TrimPrefix(name, "/"))
		if want == ".." || strings.HasPrefix(want, "../") {
			return nil, fmt.Errorf("%s is outside the chart", name)
		}
		for _, f := range v.chart.Raw {
			if f.Name == want {
				return f.Data, nil
			}
		}
		return nil, &notExistError{what: fmt.Sprintf("%s does not exist in chart %s", name, v.chart.Name())}
	}
	p := filepath.Join(v.chartDir, filepath.FromSlash(name))
	if strings.HasPrefix(name, "/") {
		p = filepath.Join(v.root, filepath.FromSlash(name))
	}
	return readConfined(v.root, p, name)
}

func readConfined(root, p, display string) ([]byte, error) {
	real, err := confine(root, p, display)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(real)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", display, cleanPaths(err, root))
	}
	return data, nil
}
