package certs

import (
	"io"
	"net"
	"time"
)

// Authority is a certificate authority and its key. The webhook's own CA is
// made by the same code (see plan.go); tests and the test cluster make
// theirs with NewAuthority, so this module writes certificates in one place.
type Authority struct{ pair *keyPair }

// NewAuthority creates a self-signed CA named commonName, valid for lifetime
// from now (and, like every certificate here, from a few minutes before, for
// verifiers whose clock runs behind).
func NewAuthority(random io.Reader, commonName string, now time.Time, lifetime time.Duration) (*Authority, error) {
	pair, err := selfSignedCA(random, commonName, now, lifetime)
	if err != nil {
		return nil, err
	}
	return &Authority{pair: pair}, nil
}

// CertPEM is the CA's certificate: what a verifier trusts.
func (a *Authority) CertPEM() []byte { return a.pair.certPEM }

// Leaf says what a certificate that Issue signs is for. The webhook's
// serving certificate sets CommonName, DNSNames and Lifetime; the test
// cluster's components also need the rest.
type Leaf struct {
	CommonName string
	// Organizations are the groups the API server reads from a client
	// certificate.
	Organizations []string
	DNSNames      []string
	IPs           []net.IP
	// Client makes the certificate valid for client authentication too;
	// every leaf is valid for serving.
	Client   bool
	Lifetime time.Duration
}

// Issue signs a fresh P-256 key for leaf, valid from now for leaf.Lifetime
// but never beyond the CA, and returns the certificate and the key (PKCS #8)
// as PEM.
func (a *Authority) Issue(random io.Reader, leaf Leaf, now time.Time) (certPEM, keyPEM []byte, err error) {
	pair, err := issue(random, a.pair, leaf, now)
	if err != nil {
		return nil, nil, err
	}
	return pair.certPEM, pair.keyPEM, nil
}
