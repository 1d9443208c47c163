package jsonapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// StatusError is an answer other than 200: its code and a message that names
// the problem and the fix.
type StatusError struct {
	Code int
	Msg  string
	// RetryAfter, in seconds, goes into a Retry-After header (429).
	RetryAfter int
}

func (e *StatusError) Error() string { return e.Msg }

// Errorf makes a StatusError.
func Errorf(code int, format string, args ...any) error {
	return &StatusError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// WriteError answers err: its own code for a StatusError, the API server's for
// a Kubernetes status error, 500 otherwise.
func WriteError(w http.ResponseWriter, err error) {
	var se *StatusError
	var ke apierrors.APIStatus
	switch {
	case errors.As(err, &se):
		if se.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(se.RetryAfter))
		}
		Error(w, se.Code, se.Msg)
	case errors.As(err, &ke):
		Error(w, int(ke.Status().Code), ke.Status().Message)
	default:
		Error(w, http.StatusInternalServerError, err.Error())
	}
}

// DecodeObject reads r's body, a JSON object of at most limit bytes, into v (a
// pointer to a struct) and returns which top-level fields it had, so that an
// update can tell "left out" from "set to null". Top-level names must match
// v's JSON names exactly: encoding/json would also take "DisplayName", which a
// client would then believe was stored under that name. Errors are
// StatusErrors naming the problem and the fields the call takes.
func DecodeObject(w http.ResponseWriter, r *http.Request, v any, limit int64) (map[string]json.RawMessage, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, Errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d KiB: send only the fields to set", limit>>10)
		}
		return nil, Errorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	allowed := fieldNames(v)
	example := "{" + strings.Join(quoted(allowed), ", ") + "}"
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, Errorf(http.StatusBadRequest, "request body is empty: send a JSON object with %s", example)
	}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(data, &present); err != nil || present == nil {
		return nil, Errorf(http.StatusBadRequest, "request body is not a JSON object: send %s", example)
	}
	for k := range present {
		if !slices.Contains(allowed, k) {
			return nil, Errorf(http.StatusBadRequest, "request body has unknown field %q: this call takes %s (names are case-sensitive)", k, strings.Join(allowed, ", "))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, Errorf(http.StatusBadRequest, "request body: field %s must be %s, not a JSON %s", te.Field, te.Type, te.Value)
		}
		return nil, Errorf(http.StatusBadRequest, "request body is not valid for this call: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return present, nil
}

// fieldNames are the JSON names of the struct v points to.
func fieldNames(v any) []string {
	return structFields(reflect.TypeOf(v).Elem())
}

// structFields lists t's JSON names, those of embedded structs included (as
// encoding/json flattens them).
func structFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, structFields(f.Type)...)
			continue
		}
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
