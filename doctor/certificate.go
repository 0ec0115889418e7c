package doctor

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"sidekiq-probe.io/sidekiq-probe/certs"
)

// servingCert parses the serving certificate from the Secret the webhook
// (or cert-manager) keeps it in.
func (c *cluster) servingCert() (*x509.Certificate, error) {
	if c.secretErr != nil {
		return nil, c.secretErr
	}
	data := c.secret.Data[certs.KeyCert]
	if len(data) == 0 {
		return nil, fmt.Errorf("no %s yet: the webhook fills the Secret once it starts", certs.KeyCert)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", certs.KeyCert)
	}
	return x509.ParseCertificate(block.Bytes)
}

// checkCertificate: an expired serving certificate makes every call fail,
// which failurePolicy Ignore turns into silently uninjected pods.
func checkCertificate(c *cluster) []Finding {
	obj := object("secret", c.cfg.WebhookNamespace, c.cfg.CertSecret)
	if c.secretErr != nil {
		return []Finding{unreadable(CheckCertificate, obj, c.secretErr)}
	}
	cert, err := c.servingCert()
	if err != nil {
		return []Finding{{Check: CheckCertificate, Status: Fail, Object: obj, Detail: err.Error(),
			Hint: fmt.Sprintf("kubectl -n %s logs deployment/%s", c.cfg.WebhookNamespace, c.cfg.Deployment)}}
	}
	left := cert.NotAfter.Sub(c.now)
	f := Finding{Check: CheckCertificate, Status: OK, Object: obj,
		Detail: fmt.Sprintf("expires %s (in %s)", cert.NotAfter.UTC().Format(time.DateTime), days(left))}
	renewal := "renewal is not happening: check the webhook's logs (self-managed certificates) or cert-manager's Certificate"
	switch {
	case left <= 0:
		f.Status = Fail
		f.Detail = fmt.Sprintf("expired %s (%s ago)", cert.NotAfter.UTC().Format(time.DateTime), days(-left))
		f.Hint = renewal
	case left < c.cfg.CertMinValidity:
		f.Status, f.Hint = Fail, renewal
	}
	return []Finding{f}
}

// checkCABundle: the API server trusts only the caBundle, so it must verify
// the serving certificate for the Service's name.
func checkCABundle(c *cluster) []Finding {
	obj := object("mutatingwebhookconfiguration", "", c.cfg.WebhookConfig)
	if c.webhookConfigErr != nil {
		return nil // checkWebhookConfig reports it
	}
	cert, err := c.servingCert()
	if err != nil {
		return nil // checkCertificate reports it
	}
	var findings []Finding
	for _, wh := range c.webhookConfig.Webhooks {
		f := Finding{Check: CheckCABundle, Status: OK, Object: obj,
			Detail: fmt.Sprintf("webhook %s: caBundle verifies the serving certificate", wh.Name)}
		if err := c.verify(cert, wh.ClientConfig.CABundle); err != nil {
			f.Status = Fail
			f.Detail = fmt.Sprintf("webhook %s: %v", wh.Name, err)
			f.Hint = "the API server rejects the webhook's TLS, so no pod is injected: the webhook rewrites the caBundle within a minute (self-managed) or cert-manager's cainjector does; restart the webhook if it stays wrong"
		}
		findings = append(findings, f)
	}
	return findings
}

// verify checks cert against caBundle the way the API server does, for the
// Service's DNS name.
func (c *cluster) verify(cert *x509.Certificate, caBundle []byte) error {
	if len(caBundle) == 0 {
		return errors.New("caBundle is empty")
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caBundle) {
		return errors.New("caBundle holds no PEM certificate")
	}
	// Expiry is checkCertificate's finding: here only trust and name count.
	at := c.now
	if at.After(cert.NotAfter) {
		at = cert.NotAfter.Add(-time.Second)
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		DNSName:     c.cfg.Service + "." + c.cfg.WebhookNamespace + ".svc",
		CurrentTime: at,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("caBundle does not verify the serving certificate: %w", err)
	}
	return nil
}

// days rounds a duration to whole days, or hours under two days.
func days(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}
