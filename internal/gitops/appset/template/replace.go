package template

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
	gotemplate "text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// Options are how strings are rendered: an ApplicationSet's goTemplate and
// goTemplateOptions.
type Options struct {
	// GoTemplate selects text/template; false selects fasttemplate's
	// {{param}} replacement.
	GoTemplate bool
	// GoTemplateOptions are text/template options, e.g. "missingkey=error".
	GoTemplateOptions []string
}

// OptionsOf returns the rendering options of an ApplicationSet spec.
func OptionsOf(spec *gitopsv1alpha1.ApplicationSetSpec) Options {
	return Options{GoTemplate: spec.GoTemplate, GoTemplateOptions: spec.GoTemplateOptions}
}

// funcs are Sprig's functions minus those reading the environment or the
// network, plus Argo CD's own, as Argo CD's ApplicationSet controller has them.
var funcs = func() gotemplate.FuncMap {
	m := sprig.TxtFuncMap()
	delete(m, "env")
	delete(m, "expandenv")
	delete(m, "getHostByName")
	m["normalize"] = Normalize
	m["slugify"] = slugify
	m["toYaml"] = toYAML
	m["fromYaml"] = fromYAML
	m["fromYamlArray"] = fromYAMLArray
	return m
}()

// isTemplated is Argo CD's test of whether a string holds a fasttemplate tag.
var isTemplated = regexp.MustCompile(".*{{.*}}.*")

// Replace renders one string with params.
//
// Without GoTemplate it is Argo CD's fasttemplate replacement: each
// {{ name }} whose name is a string parameter is replaced by its value; any
// other tag is left as it is. With GoTemplate, the string is a text/template
// executed with params as its data.
func Replace(s string, params map[string]any, opts Options) (string, error) {
	if opts.GoTemplate {
		if !strings.Contains(s, "{{") {
			return s, nil // nothing to execute: the template's output is the text
		}
		t, err := gotemplate.New("").Funcs(funcs).Parse(s)
		if err != nil {
			return "", fmt.Errorf("parse template %q: %w", s, err)
		}
		for _, o := range opts.GoTemplateOptions {
			if err := setOption(t, o); err != nil {
				return "", err
			}
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, params); err != nil {
			return "", fmt.Errorf("execute template %q: %w", s, trimExecError(err))
		}
		return buf.String(), nil
	}
	if !isTemplated.MatchString(s) {
		return s, nil
	}
	var b strings.Builder
	rest := s
	for {
		start := strings.Index(rest, "{{")
		if start < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:start])
		rest = rest[start+2:]
		end := strings.Index(rest, "}}")
		if end < 0 {
			return "", fmt.Errorf("template %q: {{ without a closing }}", s)
		}
		tag := rest[:end]
		rest = rest[end+2:]
		name := strings.TrimSpace(tag)
		if v, ok := params[name].(string); ok && name != "" {
			b.WriteString(v)
		} else {
			b.WriteString("{{" + tag + "}}")
		}
	}
}

// setOption applies a text/template option, turning its panic on an unknown
// option into an error.
func setOption(t *gotemplate.Template, o string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("goTemplateOptions: %q is not a text/template option (try missingkey=error)", o)
		}
	}()
	t.Option(o)
	return nil
}

// trimExecError drops text/template's `template: :1:3: executing "" at` prefix
// noise only when it carries nothing: the remaining message names the action.
func trimExecError(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, `executing "" at `); i >= 0 {
		return fmt.Errorf("%s", msg[i+len(`executing "" at `):])
	}
	return err
}

// ReplaceValue renders every string of a JSON-like value (maps, slices,
// strings; map keys too, as Argo CD does) and returns the rendered copy.
// field names the value in errors, e.g. "spec.source".
func ReplaceValue(field string, v any, params map[string]any, opts Options) (any, error) {
	switch x := v.(type) {
	case string:
		out, err := Replace(x, params, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		from := make(map[string]string, len(x))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub := joinField(field, k)
			val, err := ReplaceValue(sub, x[k], params, opts)
			if err != nil {
				return nil, err
			}
			key, err := Replace(k, params, opts)
			if err != nil {
				return nil, fmt.Errorf("%s (key): %w", sub, err)
			}
			if prev, dup := from[key]; dup {
				return nil, fmt.Errorf("%s: keys %q and %q both render to %q", field, prev, k, key)
			}
			from[key] = k
			out[key] = val
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			val, err := ReplaceValue(fmt.Sprintf("%s[%d]", field, i), item, params, opts)
			if err != nil {
				return nil, err
			}
			out[i] = val
		}
		return out, nil
	default:
		return v, nil
	}
}

func joinField(field, k string) string {
	if field == "" {
		return k
	}
	if strings.ContainsAny(k, "./") {
		return fmt.Sprintf("%s[%q]", field, k)
	}
	return field + "." + k
}

var invalidDNSNameChars = regexp.MustCompile("[^-a-z0-9.]")

// Normalize is Argo CD's SanitizeName (the template function `normalize` and
// the *Normalized parameters): lowercase, characters other than [-a-z0-9.]
// replaced by '-', at most 253 characters, no leading or trailing '-' or '.'.
func Normalize(name string) string {
	name = strings.ToLower(name)
	name = invalidDNSNameChars.ReplaceAllString(name, "-")
	if len(name) > 253 {
		name = name[:253]
	}
	return strings.Trim(name, "-.")
}

// NormalizeLabel turns any string (a branch name) into a DNS label: lowercase,
// every character other than [a-z0-9] replaced by '-', no leading or trailing
// '-', at most 63 characters. A longer result is cut and given a suffix of 8
// hex digits of the original's SHA-256, so that two long names with the same
// beginning stay distinct; an empty result is those 8 digits alone.
func NormalizeLabel(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			b[i] = '-'
		}
	}
	out := strings.Trim(string(b), "-")
	if len(out) <= 63 && out != "" {
		return out
	}
	sum := sha256.Sum256([]byte(s))
	suffix := hex.EncodeToString(sum[:])[:8]
	if out == "" {
		return suffix
	}
	return strings.TrimRight(out[:63-1-len(suffix)], "-") + "-" + suffix
}

// slugify is Argo CD's: slugify [maxLength [smartTruncate]] name. The name is
// normalized, reduced to [a-z0-9-] with runs of '-' collapsed, and cut to
// maxLength (default 50), at a '-' when smart truncation is on (default).
func slugify(args ...any) (string, error) {
	maxLen, smart, name := 50, true, ""
	if len(args) == 0 {
		return "", fmt.Errorf("slugify: no name given")
	}
	for i, a := range args {
		var ok bool
		switch {
		case i == len(args)-1:
			name, ok = a.(string)
		case i == 0:
			maxLen, ok = a.(int)
		case i == 1:
			smart, ok = a.(bool)
		}
		if !ok {
			return "", fmt.Errorf("slugify: bad arguments: want [maxLength int] [smartTruncate bool] name string")
		}
	}
	s := strings.ReplaceAll(Normalize(name), ".", "-")
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	if maxLen > 0 && len(s) > maxLen {
		cut := s[:maxLen]
		if smart && s[maxLen] != '-' {
			if i := strings.LastIndex(cut, "-"); i > 0 {
				cut = cut[:i]
			}
		}
		s = cut
	}
	return strings.Trim(s, "-"), nil
}

func toYAML(v any) (string, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(data), "\n"), nil
}

func fromYAML(s string) (map[string]any, error) {
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}

func fromYAMLArray(s string) ([]any, error) {
	a := []any{}
	if err := yaml.Unmarshal([]byte(s), &a); err != nil {
		return nil, err
	}
	return a, nil
}
