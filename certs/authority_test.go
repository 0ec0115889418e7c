package certs

import (
	"crypto/rand"
	"crypto/x509"
	"net"
	"slices"
	"testing"
	"time"
)

// TestAuthority_Issue checks what the tests and the test cluster rely on:
// a leaf verifies against the CA for what it is for, carries the names,
// addresses and groups it was given, and never outlives the CA.
func TestAuthority_Issue(t *testing.T) {
	ca, err := NewAuthority(rand.Reader, "test CA", t0, 30*day)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM())
	serving := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	tests := map[string]struct {
		leaf         Leaf
		validFor     [][]x509.ExtKeyUsage
		notValidFor  [][]x509.ExtKeyUsage
		wantNotAfter time.Time
	}{
		"a serving certificate serves its names and is no client": {
			leaf:     Leaf{CommonName: "svc", DNSNames: []string{"svc", "svc.ns"}, Lifetime: day},
			validFor: [][]x509.ExtKeyUsage{serving}, notValidFor: [][]x509.ExtKeyUsage{client},
			wantNotAfter: t0.Add(day),
		},
		"a client certificate carries its groups and serves its addresses too": {
			leaf: Leaf{CommonName: "admin", Organizations: []string{"system:masters"},
				IPs: []net.IP{net.ParseIP("10.88.0.1")}, Client: true, Lifetime: day},
			validFor:     [][]x509.ExtKeyUsage{serving, client},
			wantNotAfter: t0.Add(day),
		},
		"a leaf asked to outlive its CA ends with it": {
			leaf:         Leaf{CommonName: "svc", DNSNames: []string{"svc"}, Lifetime: year},
			validFor:     [][]x509.ExtKeyUsage{serving},
			wantNotAfter: t0.Add(30 * day),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			certPEM, keyPEM, err := ca.Issue(rand.Reader, tc.leaf, t0)
			if err != nil {
				t.Fatal(err)
			}
			pair, err := parseKeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatalf("issued pair does not parse: %v", err)
			}
			cert := pair.cert
			if !cert.NotAfter.Equal(tc.wantNotAfter) {
				t.Errorf("NotAfter %v, want %v", cert.NotAfter, tc.wantNotAfter)
			}
			if cert.Subject.CommonName != tc.leaf.CommonName || !slices.Equal(cert.Subject.Organization, tc.leaf.Organizations) ||
				!slices.Equal(cert.DNSNames, tc.leaf.DNSNames) || !slices.EqualFunc(cert.IPAddresses, tc.leaf.IPs, net.IP.Equal) {
				t.Errorf("subject %v, DNS names %v, IPs %v; want %+v", cert.Subject, cert.DNSNames, cert.IPAddresses, tc.leaf)
			}
			verify := func(usages []x509.ExtKeyUsage) error {
				_, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: t0, KeyUsages: usages})
				return err
			}
			for _, usages := range tc.validFor {
				if err := verify(usages); err != nil {
					t.Errorf("not valid for %v: %v", usages, err)
				}
			}
			for _, usages := range tc.notValidFor {
				if verify(usages) == nil {
					t.Errorf("valid for %v, should not be", usages)
				}
			}
		})
	}
}
