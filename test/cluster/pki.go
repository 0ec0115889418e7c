package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"time"

	"sidekiq-probe.io/sidekiq-probe/certs"
)

// pkiLifetime bounds every certificate of the cluster: it is made fresh at
// each start.
const pkiLifetime = 7 * 24 * time.Hour

// pki is the cluster's certificate authority, made by package certs (the
// code behind the webhook's own CA). Every certificate lives only in the
// state folder.
type pki struct {
	dir string
	ca  *certs.Authority
}

func newPKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := certs.NewAuthority(rand.Reader, "sidekiq-probe test cluster CA", time.Now(), pkiLifetime)
	if err != nil {
		return nil, err
	}
	p := &pki{dir: dir, ca: ca}
	return p, os.WriteFile(p.path("ca.crt"), ca.CertPEM(), 0o644)
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

// caPEM is the CA's certificate, for kubeconfigs.
func (p *pki) caPEM() []byte { return p.ca.CertPEM() }

// issue writes name.crt and name.key: a client certificate for the user and
// groups leaf names, also valid for serving on its addresses and DNS names.
func (p *pki) issue(name string, leaf certs.Leaf) error {
	leaf.Client, leaf.Lifetime = true, pkiLifetime
	certPEM, keyPEM, err := p.ca.Issue(rand.Reader, leaf, time.Now())
	if err != nil {
		return err
	}
	if err := os.WriteFile(p.path(name+".crt"), certPEM, 0o644); err != nil {
		return err
	}
	return os.WriteFile(p.path(name+".key"), keyPEM, 0o600)
}

// serviceAccountKey writes the key pair that signs ServiceAccount tokens.
func (p *pki) serviceAccountKey() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	if err := os.WriteFile(p.path("sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(p.path("sa.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}
