package projectapi

import (
	"encoding/json"
	"net/http"

	"gantry.dev/gantry/internal/api"
	"gantry.dev/gantry/internal/jsonapi"
)

// maxBody bounds request bodies: a project's settings are a few KiB.
const maxBody = 64 << 10

func errorf(code int, format string, args ...any) error { return jsonapi.Errorf(code, format, args...) }

// decode reads a JSON object body strictly (api.DecodeObject) and returns
// which top-level fields it had.
func decode(r *http.Request, v any) (map[string]json.RawMessage, error) {
	return api.DecodeObject(r, v)
}
