package render

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// document is one YAML document of a file and the line it starts on, so
// that errors point at the line of the file rather than of the document.
type document struct {
	data []byte
	line int
}

// splitDocuments splits a YAML stream at "---" separator lines.
func splitDocuments(data []byte) []document {
	var docs []document
	start, startLine, line := 0, 1, 1
	for i := 0; i <= len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		next := len(data) + 1
		if end >= 0 {
			end += i
			next = end + 1
		} else {
			end = len(data)
		}
		text := strings.TrimRight(string(data[i:end]), "\r")
		if text == "---" || strings.HasPrefix(text, "--- ") || strings.HasPrefix(text, "---\t") {
			docs = append(docs, document{data: data[start:i], line: startLine})
			start, startLine = next, line+1
			if start > len(data) {
				start = len(data)
			}
		}
		i = next
		line++
	}
	return append(docs, document{data: data[start:], line: startLine})
}

// notObjectError is a document that is valid YAML but not a Kubernetes
// object; a directory source skips files made only of such documents.
type notObjectError struct {
	file string
	line int
	what string
}

func (e *notObjectError) Error() string {
	return fmt.Sprintf("%s: the document at line %d is not a Kubernetes object (%s)", e.file, e.line, e.what)
}

// yamlError is a syntax error, with the line counted from the start of the
// file.
type yamlError struct {
	file string
	line int
	msg  string
	err  error
}

func (e *yamlError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("invalid YAML in %s at line %d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("invalid YAML in %s: %s", e.file, e.msg)
}

func (e *yamlError) Unwrap() error { return e.err }

var yamlLineRE = regexp.MustCompile(`line (\d+): (.*)$`)

func newYAMLError(file string, doc document, err error) error {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return &yamlError{file: file, msg: fmt.Sprintf("%v (in the document starting at line %d)", err, doc.line), err: err}
	}
	n, _ := strconv.Atoi(m[1])
	return &yamlError{file: file, line: doc.line + n - 1, msg: m[2], err: err}
}

// decodeObjects parses YAML or JSON documents into objects, flattening
// lists. file names the source in errors. A document that is empty or only
// comments is skipped; a top-level array (a JSON file holding several
// objects) contributes each element.
func decodeObjects(data []byte, file string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	for _, doc := range splitDocuments(data) {
		js, err := yaml.YAMLToJSON(doc.data)
		if err != nil {
			return objs, newYAMLError(file, doc, err)
		}
		var v any
		if err := utiljson.Unmarshal(js, &v); err != nil {
			return objs, newYAMLError(file, doc, err)
		}
		var items []any
		switch t := v.(type) {
		case nil:
			continue
		case map[string]any:
			items = []any{t}
		case []any:
			items = t
		default:
			return objs, &notObjectError{file: file, line: doc.line, what: "a scalar"}
		}
		for _, item := range items {
			m, ok := item.(map[string]any)
			if !ok {
				return objs, &notObjectError{file: file, line: doc.line, what: "an array element that is not a mapping"}
			}
			if objs, err = appendObject(objs, m, file, doc.line); err != nil {
				return objs, err
			}
		}
	}
	return objs, nil
}

// appendObject appends m, or the items of m if it is a list (kind List or
// any *List with items), as kubectl does.
func appendObject(objs []*unstructured.Unstructured, m map[string]any, file string, line int) ([]*unstructured.Unstructured, error) {
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	if apiVersion == "" || kind == "" {
		return objs, &notObjectError{file: file, line: line, what: "no apiVersion or kind"}
	}
	items, isList := m["items"]
	if !strings.HasSuffix(kind, "List") || !isList {
		return append(objs, &unstructured.Unstructured{Object: m}), nil
	}
	if items == nil { // "items: null" is an empty list
		return objs, nil
	}
	list, ok := items.([]any)
	if !ok {
		return append(objs, &unstructured.Unstructured{Object: m}), nil
	}
	for i, item := range list {
		im, ok := item.(map[string]any)
		if !ok {
			return objs, fmt.Errorf("%s: item %d of the %s at line %d is not an object", file, i, kind, line)
		}
		var err error
		if objs, err = appendObject(objs, im, file, line); err != nil {
			return objs, fmt.Errorf("item %d of the %s: %w", i, kind, err)
		}
	}
	return objs, nil
}
