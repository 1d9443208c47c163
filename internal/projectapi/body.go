package projectapi

import (
	"encoding/json"
	"net/http"

	"gantry.dev/gantry/internal/jsonapi"
)

// maxBody bounds request bodies: a project's settings are a few KiB.
const maxBody = 64 << 10

func errorf(code int, format string, args ...any) error { return jsonapi.Errorf(code, format, args...) }

func writeError(w http.ResponseWriter, err error) { jsonapi.WriteError(w, err) }

// decode reads a JSON object body strictly (jsonapi.DecodeObject) and returns
// which top-level fields it had.
func decode(w http.ResponseWriter, r *http.Request, v any) (map[string]json.RawMessage, error) {
	return jsonapi.DecodeObject(w, r, v, maxBody)
}
