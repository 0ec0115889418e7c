// Package testcert writes a short-lived serving certificate for tests that
// run the webhook with a plain --cert-dir (as with cert-manager). The
// certificates come from package certs, the code that makes the webhook's
// own, so no test writes certificate code of its own.
package testcert

import (
	"crypto/rand"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/certs"
)

// Lifetime is how long a written certificate is valid from now.
const Lifetime = 24 * time.Hour

// Write puts into dir what cert-manager's Secret for the chart's serving
// Certificate holds: tls.crt for dnsNames, its key tls.key, and ca.crt, a
// fresh CA that signed it and nothing else. It returns a pool that trusts
// only that CA.
func Write(t testing.TB, dir string, dnsNames ...string) *x509.CertPool {
	t.Helper()
	now := time.Now()
	ca, err := certs.NewAuthority(rand.Reader, "sidekiq-probe test CA", now, Lifetime)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue(rand.Reader, certs.Leaf{CommonName: dnsNames[0], DNSNames: dnsNames, Lifetime: Lifetime}, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name    string
		content []byte
	}{{certs.KeyCACert, ca.CertPEM()}, {certs.KeyFile, keyPEM}, {certs.CertFile, certPEM}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())
	return pool
}
