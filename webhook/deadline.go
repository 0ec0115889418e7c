package webhook

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// reviewTimeout is how long the caller waits for the answer: the API server
// puts its webhook timeout (1 to 30 s) in the URL as ?timeout=10s. It is
// bounded by maxTimeout, which is also the timeout of a request without one.
// A malformed value is an error naming the parameter; zero or less means the
// caller has already stopped waiting.
func reviewTimeout(r *http.Request, maxTimeout time.Duration) (time.Duration, error) {
	raw := r.URL.Query().Get("timeout")
	if raw == "" {
		return maxTimeout, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		return 0, fmt.Errorf("the URL's timeout parameter: %q is not accepted: a duration such as 10s", raw)
	}
	return min(d, maxTimeout), nil
}

// stopped is an error once ctx has ended, naming the step that will not run.
func stopped(ctx context.Context, step string) error {
	if ctx.Err() == nil {
		return nil
	}
	return fmt.Errorf("the request's deadline passed before %s: the API server has stopped waiting (%w)", step, context.Cause(ctx))
}

// timedOut answers a request whose deadline has passed; the API server,
// which has already given up, applies the webhook's failure policy.
func timedOut(err error) (admission.Response, Decision) {
	return admission.Errored(http.StatusGatewayTimeout, err), Decision{Result: Errored, Message: err.Error()}
}
