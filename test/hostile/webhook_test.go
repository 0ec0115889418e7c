package hostile

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/internal/testserve"
)

// TestWebhook_Hostile runs the real `sidekiq-probe-webhook serve` over TLS,
// a fresh process per row (its peak RSS is the row's own), with its default
// limits, and sends it what an attacker on the pod network, or a pod spec
// built to hurt, would send. Times are generous bounds a loaded 2-core
// machine meets; the figures are logged.
func TestWebhook_Hostile(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sidekiq-probe-webhook")
	testkit.Must(t, testkit.GoBuild(bin, "./cmd/sidekiq-probe-webhook"))
	normal := testkit.CompactBenchReview(t)

	tests := map[string]func(t *testing.T, s *webhookServe){
		"12 concurrent 6.5 MB reviews keep RSS under 150 MiB, and a normal review is answered after": func(t *testing.T, s *webhookServe) {
			big := webhookReview(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"big","annotations":{"sidekiq-probe.io/inject":"true"}},` +
				`"spec":{"containers":[{"name":"worker","image":"app:1","command":["bundle","exec","sidekiq"],` +
				`"env":[{"name":"BLOB","value":"` + strings.Repeat("x", 6_500_000) + `"}]}]}}`)
			injected, busy := s.concurrently(t, 12, big)
			t.Logf("%d injected, %d answered 503 busy; peak RSS %d MiB", injected, busy, s.peakRSS(t)>>10)
			if injected == 0 {
				t.Error("no 6.5 MB review was injected")
			}
			if rss := s.peakRSS(t); rss >= 150<<10 {
				t.Errorf("peak RSS %d MiB, want under 150", rss>>10)
			}
			s.wantInjected(t, normal)
		},
		"12 concurrent reviews of 200,000 empty containers are refused before they are decoded": func(t *testing.T, s *webhookServe) {
			bomb := webhookReview(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bomb","annotations":{"sidekiq-probe.io/inject":"true"}},` +
				`"spec":{"containers":[` + strings.Repeat(`{},`, 200_000) + `{"name":"worker","image":"app:1"}]}}`)
			var wg sync.WaitGroup
			for range 12 {
				wg.Go(func() {
					s.wantRefused(t, bomb, http.StatusRequestEntityTooLarge, "--review-memory")
				})
			}
			wg.Wait()
			t.Logf("peak RSS %d MiB", s.peakRSS(t)>>10)
			if rss := s.peakRSS(t); rss >= 150<<10 {
				t.Errorf("peak RSS %d MiB, want under 150", rss>>10)
			}
			s.wantInjected(t, normal)
		},
		"a client that stalls mid-body is disconnected within 30 s": func(t *testing.T, s *webhookServe) {
			conn := s.dial(t)
			webhookWrite(t, conn, "POST /mutate-v1-pod HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"+
				"Content-Length: 6000000\r\n\r\n"+`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"`+strings.Repeat("x", 1<<20))
			stalled := time.Now()
			testkit.Must(t, conn.SetReadDeadline(time.Now().Add(60*time.Second)))
			answer, err := io.ReadAll(conn) // until the server closes
			took := time.Since(stalled)
			t.Logf("disconnected %v after the client stalled; answered %q", took.Round(time.Millisecond), webhookFirstLine(answer))
			if err != nil {
				t.Fatalf("reading until the server closes: %v", err)
			}
			if took > 30*time.Second {
				t.Errorf("disconnected after %v, want within 30 s", took)
			}
		},
		"a Content-Length that lies, huge and then a few bytes, is refused before the body is read": func(t *testing.T, s *webhookServe) {
			conn := s.dial(t)
			webhookWrite(t, conn, "POST /mutate-v1-pod HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"+
				"Content-Length: 1000000000000\r\n\r\n{\"apiVersion\":")
			testkit.Must(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			testkit.Must(t, err)
			defer resp.Body.Close()
			webhookWantResponse(t, resp, false, http.StatusRequestEntityTooLarge, "over the limit of 7340032 bytes (--max-review-size)")
		},
		"5,000 envFrom sources are answered in under 1 s": func(t *testing.T, s *webhookServe) {
			var sources strings.Builder
			for i := range 5_000 {
				fmt.Fprintf(&sources, `{"configMapRef":{"name":"config-%04d"}},`, i)
			}
			review := webhookReview(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"wide","annotations":{"sidekiq-probe.io/inject":"true"}},` +
				`"spec":{"containers":[{"name":"worker","image":"app:1","command":["bundle","exec","sidekiq"],"envFrom":[` +
				strings.TrimSuffix(sources.String(), ",") + `]}]}}`)
			start := time.Now()
			s.wantInjected(t, review)
			took := time.Since(start)
			t.Logf("answered in %v", took.Round(time.Millisecond))
			if took > time.Second {
				t.Errorf("answered in %v, want under 1 s", took)
			}
		},
		"100,000 annotations are answered within the deadline": func(t *testing.T, s *webhookServe) {
			var annotations strings.Builder
			for i := range 100_000 {
				fmt.Fprintf(&annotations, `"k%06d":"v",`, i)
			}
			review := webhookReview(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"many","annotations":{` + annotations.String() +
				`"sidekiq-probe.io/inject":"true"}},"spec":{"containers":[{"name":"worker","image":"app:1","command":["bundle","exec","sidekiq"]}]}}`)
			start := time.Now()
			s.wantInjected(t, review)
			t.Logf("answered in %v", time.Since(start).Round(time.Millisecond))
		},
		"headers over 16 KiB are refused before the body is read": func(t *testing.T, s *webhookServe) {
			conn := s.dial(t)
			webhookWrite(t, conn, "POST /mutate-v1-pod HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"+
				"X-Padding: "+strings.Repeat("x", 32<<10)+"\r\nContent-Length: 10\r\n\r\n")
			testkit.Must(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			testkit.Must(t, err)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Fatalf("HTTP %d, want 431", resp.StatusCode)
			}
		},
		"a review whose timeout has passed is answered at once with an HTTP error, without being read": func(t *testing.T, s *webhookServe) {
			resp := s.post(t, "?timeout=0s", normal)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			testkit.Must(t, err)
			if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "the request's deadline passed before reading the body") {
				t.Fatalf("HTTP %d %q, want 504 saying the deadline passed", resp.StatusCode, body)
			}
		},
		"a TLS 1.2 client offering only CBC-SHA1 suites fails the handshake": func(t *testing.T, s *webhookServe) {
			conn, err := tls.Dial("tcp", s.Addr, &tls.Config{RootCAs: s.Roots, ServerName: "localhost", MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
					tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA}})
			if err == nil {
				conn.Close()
				t.Fatal("the handshake succeeded")
			}
			if !strings.Contains(err.Error(), "handshake failure") {
				t.Fatalf("error %v, want a handshake failure", err)
			}
		},
		"a TLS 1.2 client offering ECDHE with AES-GCM is served": func(t *testing.T, s *webhookServe) {
			conn, err := tls.Dial("tcp", s.Addr, &tls.Config{RootCAs: s.Roots, ServerName: "localhost", MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
			testkit.Must(t, err)
			conn.Close()
		},
		"a body that is not JSON is answered 200 with allowed false and the reason": func(t *testing.T, s *webhookServe) {
			s.wantRefused(t, []byte("apiVersion: admission.k8s.io/v1"), http.StatusBadRequest, "the request body is not an AdmissionReview in JSON")
		},
		"an object that is not a pod is answered naming request.object": func(t *testing.T, s *webhookServe) {
			s.wantRefused(t, webhookReview(`[1,2,3]`), http.StatusBadRequest, "request.object is not a JSON object")
		},
		"100,000 levels of nesting are refused fast": func(t *testing.T, s *webhookServe) {
			deep := webhookReview(`{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":` + strings.Repeat(`{"a":`, 100_000) + `1` + strings.Repeat(`}`, 100_000) + `}}`)
			start := time.Now()
			s.wantRefused(t, deep, http.StatusBadRequest, "exceeded max depth")
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("refused after %v, want within 5 s", took)
			}
		},
	}
	for name, check := range tests {
		t.Run(name, func(t *testing.T) {
			check(t, webhookStart(t, bin))
		})
	}
}

// webhookServe is one `serve` process, and a client that speaks to it as
// the API server does.
type webhookServe struct {
	*testserve.Process
	client *http.Client
}

func webhookStart(t *testing.T, bin string) *webhookServe {
	t.Helper()
	s := &webhookServe{Process: testserve.Start(t, bin)}
	// Like the API server's client: HTTP/2 over TLS.
	s.client = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{RootCAs: s.Roots, ServerName: "localhost"}}}
	t.Cleanup(s.client.CloseIdleConnections)
	return s
}

func (s *webhookServe) peakRSS(t *testing.T) int {
	return testkit.StatusKiB(t, s.Cmd.Process.Pid, "VmHWM")
}

func (s *webhookServe) dial(t *testing.T) *tls.Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", s.Addr, &tls.Config{RootCAs: s.Roots, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
	testkit.Must(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// post sends a review as the API server does, with query (its timeout).
func (s *webhookServe) post(t *testing.T, query string, body []byte) *http.Response {
	t.Helper()
	resp, err := s.client.Post("https://"+s.Addr+"/mutate-v1-pod"+query, "application/json", bytes.NewReader(body))
	testkit.Must(t, err)
	return resp
}

func (s *webhookServe) wantInjected(t *testing.T, review []byte) {
	t.Helper()
	resp := s.post(t, "?timeout=10s", review)
	defer resp.Body.Close()
	webhookWantResponse(t, resp, true, http.StatusOK, "")
}

func (s *webhookServe) wantRefused(t *testing.T, review []byte, code int32, message string) {
	t.Helper()
	resp := s.post(t, "?timeout=10s", review)
	defer resp.Body.Close()
	webhookWantResponse(t, resp, false, code, message)
}

// concurrently sends n copies of review at once with the API server's
// longest timeout; each is injected or, past its deadline, answered 503.
func (s *webhookServe) concurrently(t *testing.T, n int, review []byte) (injected, busy int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp := s.post(t, "?timeout=30s", review)
			defer resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			if resp.StatusCode == http.StatusServiceUnavailable {
				busy++
				return
			}
			webhookWantResponse(t, resp, true, http.StatusOK, "")
			injected++
		})
	}
	wg.Wait()
	return injected, busy
}

// webhookWantResponse checks an answer in a review with HTTP 200: allowed
// with a patch, or refused with code and a message containing message.
func webhookWantResponse(t *testing.T, resp *http.Response, allowed bool, code int32, message string) {
	t.Helper()
	raw, err := io.ReadAll(resp.Body)
	testkit.Must(t, err)
	var review admissionv1.AdmissionReview
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &review) != nil || review.Response == nil {
		t.Fatalf("HTTP %d %.300q, want 200 with an AdmissionReview", resp.StatusCode, raw)
	}
	r := review.Response
	switch {
	case allowed && (!r.Allowed || len(r.Patch) == 0):
		t.Fatalf("response %.300v, want allowed with a patch", r)
	case !allowed && (r.Allowed || r.Result == nil || r.Result.Code != code || !strings.Contains(r.Result.Message, message)):
		t.Fatalf("response %.500v\nwant refused with code %d and a message containing %q", r, code, message)
	}
}

func webhookReview(object string) []byte {
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",` +
		`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
		`"operation":"CREATE","namespace":"shop","object":` + object + `}}`)
}

func webhookWrite(t *testing.T, conn *tls.Conn, s string) {
	t.Helper()
	testkit.Must(t, conn.SetWriteDeadline(time.Now().Add(30*time.Second)))
	if _, err := io.WriteString(conn, s); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("writing the request: %v", err)
	}
}

func webhookFirstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\r\n"))
	return string(line)
}
