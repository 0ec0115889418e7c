package certs

import (
	"bytes"
	"crypto/x509"
	"time"
)

// Keys of the shared Secret. The Helm chart creates the Secret empty; these
// names are the contract between it and the Manager.
const (
	KeyCACert         = "ca.crt"
	KeyCAKey          = "ca.key"
	KeyPreviousCACert = "ca-previous.crt"
	KeyCert           = "tls.crt"
	KeyKey            = "tls.key"
)

// bundle is the content of the Secret. A part that is missing or does not
// parse is nil, so the plan treats it like a part never issued.
type bundle struct {
	ca         *keyPair
	previousCA *x509.Certificate
	leaf       *keyPair
}

func bundleFromData(data map[string][]byte) bundle {
	var b bundle
	if ca, err := parseKeyPair(data[KeyCACert], data[KeyCAKey]); err == nil && ca.cert.IsCA {
		b.ca = ca
	}
	if prev, err := parseCert(data[KeyPreviousCACert]); err == nil && prev.IsCA {
		b.previousCA = prev
	}
	if leaf, err := parseKeyPair(data[KeyCert], data[KeyKey]); err == nil {
		b.leaf = leaf
	}
	return b
}

// data is what to store in the Secret. Other keys of the Secret are kept by
// the caller.
func (b bundle) data() map[string][]byte {
	d := map[string][]byte{}
	if b.ca != nil {
		d[KeyCACert], d[KeyCAKey] = b.ca.certPEM, b.ca.keyPEM
	}
	if b.previousCA != nil {
		d[KeyPreviousCACert] = pemOf(b.previousCA)
	}
	if b.leaf != nil {
		d[KeyCert], d[KeyKey] = b.leaf.certPEM, b.leaf.keyPEM
	}
	return d
}

// caBundle is the PEM the API server must trust: the current CA, then the
// previous one while a rotation is in progress.
func (b bundle) caBundle() []byte {
	var out bytes.Buffer
	if b.ca != nil {
		out.Write(b.ca.certPEM)
	}
	if b.previousCA != nil {
		out.Write(pemOf(b.previousCA))
	}
	return out.Bytes()
}

// servable reports whether the leaf can be served at now.
func (b bundle) servable(now time.Time) bool {
	return b.leaf != nil && !now.Before(b.leaf.cert.NotBefore) && now.Before(b.leaf.cert.NotAfter)
}
