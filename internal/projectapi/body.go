package projectapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"gantry.dev/gantry/internal/jsonapi"
)

// maxBody bounds request bodies: a project's settings are a few KiB.
const maxBody = 64 << 10

// httpError is an answer other than 200: its code and a message that names
// the problem and the fix.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

// writeError answers err: its own code for an httpError, the API server's for
// a Kubernetes status error, 500 otherwise.
func writeError(w http.ResponseWriter, err error) {
	var he *httpError
	var se apierrors.APIStatus
	switch {
	case errors.As(err, &he):
		jsonapi.Error(w, he.code, he.msg)
	case errors.As(err, &se):
		jsonapi.Error(w, int(se.Status().Code), se.Status().Message)
	default:
		jsonapi.Error(w, http.StatusInternalServerError, err.Error())
	}
}

// decode reads r's body, a JSON object, into v (a pointer to a struct) and
// returns which top-level fields it had, so that an update can tell "left out"
// from "set to null". Top-level names must match v's JSON names exactly:
// encoding/json would also take "DisplayName", which a client would then
// believe was stored under that name.
func decode(w http.ResponseWriter, r *http.Request, v any) (map[string]json.RawMessage, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d KiB: send only the fields to set", maxBody>>10)
		}
		return nil, errorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	allowed := fieldNames(v)
	example := "{" + strings.Join(quoted(allowed), ", ") + "}"
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errorf(http.StatusBadRequest, "request body is empty: send a JSON object with %s", example)
	}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(data, &present); err != nil || present == nil {
		return nil, errorf(http.StatusBadRequest, "request body is not a JSON object: send %s", example)
	}
	for k := range present {
		if !slices.Contains(allowed, k) {
			return nil, errorf(http.StatusBadRequest, "request body has unknown field %q: this call takes %s (names are case-sensitive)", k, strings.Join(allowed, ", "))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, errorf(http.StatusBadRequest, "request body: field %s must be %s, not a JSON %s", te.Field, te.Type, te.Value)
		}
		return nil, errorf(http.StatusBadRequest, "request body is not valid for this call: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return present, nil
}

// fieldNames are the JSON names of the struct v points to.
func fieldNames(v any) []string {
	t := reflect.TypeOf(v).Elem()
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q: …", n)
	}
	return out
}
