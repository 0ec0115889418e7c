// Package certs lets the webhook run its own small certificate authority, so
// a plain `helm install` needs nothing else (no cert-manager).
//
// Every replica runs a Manager. All of them share ONE Secret, which holds the
// CA (ca.crt, ca.key), the serving certificate (tls.crt, tls.key) and, while
// the CA is being replaced, the previous CA (ca-previous.crt). Replicas never
// hold state of their own: each pass reads the Secret, decides what is due
// (see plan.go) and writes it back with the resourceVersion it read. When two
// replicas race, the API server accepts one write and the other gets a
// conflict, re-reads, and adopts what the winner stored, so there is never a
// second CA.
//
// A pass then copies the CA certificates into the caBundle of every webhook in
// the MutatingWebhookConfiguration and writes the serving certificate and key
// into the serving directory. The webhook server reads that directory through
// controller-runtime's certwatcher, exactly as it does when cert-manager
// provides the files, so the server has one way to get its certificate.
//
// Renewal happens at two thirds of a certificate's life. Replacing the leaf is
// harmless, since the trusted CA does not change. Replacing the CA takes three
// passes separated by an overlap period, so the API server trusts whatever
// certificate any replica serves at any moment:
//
//  1. a new CA is stored, the old one moves to ca-previous.crt and the caBundle
//     holds both; replicas still serve the leaf signed by the old CA;
//  2. after the overlap, a leaf signed by the new CA is issued and served;
//  3. after another overlap, the old CA leaves the Secret and the caBundle.
//
// The clock and the random source are injected so tests can age certificates.
// (Since Go 1.26 the crypto packages ignore a caller's random source for key
// generation; the injected reader still feeds serial numbers and signing.)
package certs
