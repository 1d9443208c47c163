// Package jsonapi writes gantry's REST answers: JSON bodies, never cached, and
// errors in the shape Argo CD's API server (gRPC-gateway) uses, {error, message,
// code}, so that clients written for Argo CD read them.
package jsonapi

import (
	"encoding/json"
	"net/http"
)

// Write answers with v as JSON.
func Write(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Error answers with an error message.
func Error(w http.ResponseWriter, code int, msg string) {
	Write(w, code, map[string]any{"error": msg, "message": msg, "code": code})
}
