package probeserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// Secret is a value that must never reach a log, an error or a metric: it
// prints as "(hidden)" whichever way it is formatted or logged.
type Secret string

func (Secret) String() string               { return "(hidden)" }
func (Secret) GoString() string             { return "(hidden)" }
func (Secret) LogValue() slog.Value         { return slog.StringValue("(hidden)") }
func (Secret) MarshalText() ([]byte, error) { return []byte("(hidden)"), nil }

// Token lengths: the webhook writes 256 random bits (43 characters) and
// keeps tokens of 22 to 256; policy mode's Secret gives 32 characters; by
// hand, `openssl rand -hex 16` gives 32. The upper bound keeps the header
// well inside maxHeaderBytes.
const (
	minTokenLen = 16
	maxTokenLen = 512
)

// parseToken accepts "" (no token) or 16 to 512 visible ASCII characters:
// what an HTTP header carries unchanged (no spaces, which a header trims).
func parseToken(v string) (Secret, error) {
	if v == "" {
		return "", nil
	}
	if len(v) < minTokenLen || len(v) > maxTokenLen {
		return "", errors.New("16 to 512 visible ASCII characters (e.g. `openssl rand -hex 16`), or empty for none")
	}
	for i := range len(v) {
		if v[i] < '!' || v[i] > '~' {
			return "", errors.New("visible ASCII characters only (no spaces), 16 to 512 of them")
		}
	}
	return Secret(v), nil
}

// authorized lets a /prestop call through only with the right token. Both
// sides are hashed first so the comparison takes the same time whatever the
// token's length and wherever the header differs. A refused call quiets
// nothing.
func (s *Server) authorized(next http.Handler) http.Handler {
	if s.cfg.PreStopToken == "" {
		return next
	}
	want := sha256.Sum256([]byte(s.cfg.PreStopToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent := r.Header.Values(contract.HeaderPreStopToken)
		got := sha256.Sum256([]byte(r.Header.Get(contract.HeaderPreStopToken)))
		if len(sent) == 1 && subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			next.ServeHTTP(w, r)
			return
		}
		reason := "wrong token"
		if len(sent) == 0 {
			reason = "missing token"
		}
		s.refuse(w, r, reason)
	})
}

// refuse answers 403 in the probes' JSON shape, counts the refusal and logs
// it, without the header's value.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, reason string) {
	s.metrics.refused(reason)
	if ok, since := s.refusals.allow(s.clock()); ok {
		s.log.Warn("preStop refused: "+reason, "remote", r.RemoteAddr, "refused_since_last_log", since)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_ = json.NewEncoder(w).Encode(fail(nil, "forbidden: %s in %s", reason, contract.HeaderPreStopToken))
}

// refusalLogEvery bounds the log lines refused calls cause: a scan of the pod
// network must not flood the logs. The metric counts every one.
const refusalLogEvery = time.Minute

// rateLog lets one log line through per period, counting the ones it held.
type rateLog struct {
	mu         sync.Mutex
	next       time.Time
	suppressed int
}

// allow reports whether to log now and how many were held back since the
// last line that was let through.
func (l *rateLog) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.next, l.suppressed = now.Add(refusalLogEvery), 0
	return true, n
}
