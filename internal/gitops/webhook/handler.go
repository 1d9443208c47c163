package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// NewHandler returns the webhook endpoint (Argo CD serves it at
// /api/webhook). secrets is asked on every request, so that a changed Secret
// takes effect at once; when it fails, every webhook is refused with 503 and
// its error (which must name what to fix): the endpoint fails closed rather
// than accepting unsigned pushes. onPush is called for every verified push,
// before the answer is written: it must only record the work (invalidate the
// source cache, enqueue refreshes) and return, as Git hosts time out slow
// webhooks (GitHub after 10 s).
//
// Answers: 200 for a push handled or an event ignored, 400 for a malformed
// request, 401 for a wrong or missing signature, 405 for a method other
// than POST, 413 for a body over MaxPayloadBytes, 503 when the secrets
// cannot be read.
func NewHandler(secrets func(context.Context) (Secrets, error), onPush func(context.Context, *Push)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := secrets(r.Context())
		if err != nil {
			http.Error(w, "webhooks are refused until their secrets can be read: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		push, err := Parse(r, s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				e = &Error{Status: http.StatusInternalServerError, Message: "internal error"}
			}
			if e.Status == http.StatusMethodNotAllowed {
				w.Header().Set("Allow", http.MethodPost)
			}
			http.Error(w, e.Message, e.Status)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if push == nil {
			fmt.Fprintln(w, "event ignored: not a push")
			return
		}
		if onPush != nil {
			onPush(r.Context(), push)
		}
		fmt.Fprintf(w, "push to %s of %s received\n", push.Ref, push.RepoURLs[0])
	})
}
