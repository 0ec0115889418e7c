package certs

import (
	"crypto/x509"
	"io"
	"slices"
	"time"
)

// plan decides, from the stored bundle and the time alone, what a pass must
// change. It is pure apart from key generation, so tests drive it with a
// fixed clock.
type plan struct {
	caLifetime   time.Duration
	leafLifetime time.Duration
	// overlap is how long each step of a CA rotation waits for every replica
	// and the API server to pick up the previous step.
	overlap  time.Duration
	dnsNames []string
	random   io.Reader
}

// renewAt is when a certificate is replaced: at two thirds of the life it
// was issued for, counted from its issue (NotBefore is backdated).
func renewAt(c *x509.Certificate) time.Time {
	issued := issuedAt(c)
	return issued.Add(c.NotAfter.Sub(issued) * 2 / 3)
}

func issuedAt(c *x509.Certificate) time.Time { return c.NotBefore.Add(backdate) }

// next returns the bundle to store at now and why it changed; no reasons
// means b is fine as it is.
func (p plan) next(b bundle, now time.Time) (bundle, []string, error) {
	var why []string

	switch {
	case b.ca == nil || !now.Before(b.ca.cert.NotAfter):
		ca, err := newCA(p.random, now, p.caLifetime)
		if err != nil {
			return b, nil, err
		}
		// A fresh start: nothing signed by an old CA is worth keeping.
		b = bundle{ca: ca}
		why = append(why, "no valid CA")
	case b.previousCA == nil && !now.Before(renewAt(b.ca.cert)):
		ca, err := newCA(p.random, now, p.caLifetime)
		if err != nil {
			return b, nil, err
		}
		b.previousCA, b.ca = b.ca.cert, ca
		why = append(why, "CA reached two thirds of its life: rotation started, old CA still trusted")
	}

	if reason := p.leafReason(b, now); reason != "" {
		leaf, err := newLeaf(p.random, b.ca, p.dnsNames, now, p.leafLifetime)
		if err != nil {
			return b, nil, err
		}
		b.leaf = leaf
		why = append(why, reason)
	}

	if b.previousCA != nil && signedBy(b.leaf, b.ca) && !now.Before(issuedAt(b.leaf.cert).Add(p.overlap)) {
		b.previousCA = nil
		why = append(why, "CA rotation finished: old CA no longer trusted")
	}
	return b, why, nil
}

// leafReason says why the serving certificate must be issued again, or "".
func (p plan) leafReason(b bundle, now time.Time) string {
	switch {
	case b.leaf == nil || !b.servable(now):
		return "no valid serving certificate"
	case signedBy(b.leaf, b.ca):
		if !now.Before(renewAt(b.leaf.cert)) {
			return "serving certificate reached two thirds of its life"
		}
		if !slices.Equal(b.leaf.cert.DNSNames, p.dnsNames) {
			return "serving certificate names changed"
		}
		return ""
	case b.previousCA != nil && b.leaf.cert.CheckSignatureFrom(b.previousCA) == nil:
		// Mid-rotation: keep serving the old CA's leaf until the new CA has
		// been trusted everywhere for a whole overlap.
		if now.Before(issuedAt(b.ca.cert).Add(p.overlap)) {
			return ""
		}
		return "CA rotation: serving certificate moves to the new CA"
	default:
		return "serving certificate not signed by the current CA"
	}
}

func signedBy(leaf, ca *keyPair) bool {
	return leaf != nil && ca != nil && leaf.cert.CheckSignatureFrom(ca.cert) == nil
}
