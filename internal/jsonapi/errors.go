package jsonapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

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
	if errors.As(err, &se) && se.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(se.RetryAfter))
	}
	code, msg := StatusOf(err)
	Error(w, code, msg)
}

// StatusOf is the code and message an error is answered with (WriteError).
func StatusOf(err error) (int, string) {
	var se *StatusError
	var ke apierrors.APIStatus
	switch {
	case errors.As(err, &se):
		return se.Code, se.Msg
	case errors.As(err, &ke) && ke.Status().Code >= 400:
		return int(ke.Status().Code), ke.Status().Message
	}
	return http.StatusInternalServerError, err.Error()
}
