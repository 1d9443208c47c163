package api

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

	"gantry.dev/gantry/internal/jsonapi"
)

// DefaultBodyLimit bounds the request body of every route that sets no
// BodyLimit: an Application or ApplicationSet is a few KiB.
const DefaultBodyLimit = 1 << 20

// BodyLimit bounds the route's request bodies to n bytes (Decode answers
// 413 beyond); n <= 0 leaves the body to the handler, which must bound it
// itself (the proxy streams kubectl's uploads; the webhook has its own limit).
func BodyLimit(n int64) Option { return func(rt *route) { rt.bodyLimit = n } }

// ErrEmptyBody is what the decoders return for a request without a body;
// a call whose body is optional checks for it with errors.Is.
var ErrEmptyBody error = &jsonapi.StatusError{Code: http.StatusBadRequest, Msg: "request body is empty: send a JSON object"}

// Decode reads the request's JSON body into v. Fields v does not have are
// ignored, as Argo CD's API server ignores them: its clients send more than
// gantry reads.
func Decode(r *http.Request, v any) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(data, v, false)
}

// DecodeStrict is Decode refusing fields v does not have, so that a typo
// (sleep_after) is not silently ignored.
func DecodeStrict(r *http.Request, v any) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(data, v, true)
}

// DecodeObject reads a JSON object into v (a pointer to a struct) and returns
// which top-level fields it had, so that an update can tell "left out" from
// "set to null". Top-level names must match v's JSON names exactly:
// encoding/json would also take "DisplayName", which a client would then
// believe was stored under that name. Errors name the problem and the fields
// the call takes.
func DecodeObject(r *http.Request, v any) (map[string]json.RawMessage, error) {
	data, err := readBody(r)
	allowed := fieldNames(v)
	example := "{" + strings.Join(quoted(allowed), ", ") + "}"
	if errors.Is(err, ErrEmptyBody) {
		return nil, jsonapi.Errorf(http.StatusBadRequest, "request body is empty: send a JSON object with %s", example)
	}
	if err != nil {
		return nil, err
	}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(data, &present); err != nil || present == nil {
		return nil, jsonapi.Errorf(http.StatusBadRequest, "request body is not a JSON object: send %s", example)
	}
	for k := range present {
		if !slices.Contains(allowed, k) {
			return nil, jsonapi.Errorf(http.StatusBadRequest, "request body has unknown field %q: this call takes %s (names are case-sensitive)", k, strings.Join(allowed, ", "))
		}
	}
	return present, decodeJSON(data, v, true)
}

// readBody reads the body the router bounded (BodyLimit).
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, ErrEmptyBody
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, jsonapi.Errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d KiB: send only what this call takes", tooLarge.Limit>>10)
		}
		return nil, jsonapi.Errorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrEmptyBody
	}
	return data, nil
}

func decodeJSON(data []byte, v any, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return jsonapi.Errorf(http.StatusBadRequest, "request body: field %s must be %s, not a JSON %s", te.Field, te.Type, te.Value)
		}
		return jsonapi.Errorf(http.StatusBadRequest, "request body is not valid JSON for this call: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return jsonapi.Errorf(http.StatusBadRequest, "request body has more than one JSON value: send one")
	}
	return nil
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
