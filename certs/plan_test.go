package certs

import (
	"crypto/rand"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	day  = 24 * time.Hour
	year = 365 * day
)

func testPlan() plan {
	return plan{
		caLifetime:   10 * year,
		leafLifetime: year,
		overlap:      10 * time.Minute,
		dnsNames:     DNSNames("svc", "ns"),
		random:       rand.Reader,
	}
}

// settled runs the plan until nothing changes and returns the bundle.
func settled(t *testing.T, p plan, b bundle, now time.Time) bundle {
	t.Helper()
	b, _, err := p.next(b, now)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPlan_Next(t *testing.T) {
	p := testPlan()
	fresh := settled(t, p, bundle{}, t0)
	leafRenewal := t0.Add(year * 2 / 3)
	caRenewal := t0.Add(10 * year * 2 / 3)
	// A bundle from the same CA whose leaf carries other names.
	otherNames := fresh
	otherNames.leaf = mustLeaf(t, fresh.ca, []string{"old-svc"}, t0)
	// A bundle whose leaf was signed by some other CA.
	stranger := fresh
	stranger.leaf = mustLeaf(t, settled(t, p, bundle{}, t0).ca, p.dnsNames, t0)
	// A bundle whose CA is due while its leaf, renewed a month ago, is not.
	agedCA := fresh
	agedCA.leaf = mustLeaf(t, fresh.ca, p.dnsNames, caRenewal.Add(-30*day))

	tests := map[string]struct {
		stored          bundle
		now             time.Time
		newCA           bool
		newLeaf         bool
		keepsPreviousCA bool
	}{
		"an empty Secret gets a CA and a serving certificate": {
			stored: bundle{}, now: t0, newCA: true, newLeaf: true,
		},
		"a fresh bundle is left alone a month later": {
			stored: fresh, now: t0.Add(30 * day),
		},
		"the serving certificate is left alone just before two thirds of its life": {
			stored: fresh, now: leafRenewal.Add(-time.Second),
		},
		"the serving certificate is renewed at two thirds of its life": {
			stored: fresh, now: leafRenewal, newLeaf: true,
		},
		"an expired serving certificate is renewed": {
			stored: fresh, now: fresh.leaf.cert.NotAfter.Add(time.Hour), newLeaf: true,
		},
		"a serving certificate for other names is replaced": {
			stored: otherNames, now: t0.Add(day), newLeaf: true,
		},
		"a serving certificate from an unknown CA is replaced": {
			stored: stranger, now: t0.Add(day), newLeaf: true,
		},
		"an expired CA is replaced without overlap": {
			stored: fresh, now: fresh.ca.cert.NotAfter, newCA: true, newLeaf: true,
		},
		"a CA at two thirds of its life starts a rotation and keeps the leaf": {
			stored: agedCA, now: caRenewal, newCA: true, keepsPreviousCA: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, why, err := p.next(tc.stored, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if changed := tc.newCA || tc.newLeaf || tc.keepsPreviousCA; changed != (len(why) > 0) {
				t.Errorf("reasons %q, want a change: %v", why, changed)
			}
			if gotNewCA := tc.stored.ca == nil || got.ca.cert.SerialNumber.Cmp(tc.stored.ca.cert.SerialNumber) != 0; gotNewCA != tc.newCA {
				t.Errorf("new CA: %v, want %v (reasons %q)", gotNewCA, tc.newCA, why)
			}
			if gotNewLeaf := tc.stored.leaf == nil || got.leaf.cert.SerialNumber.Cmp(tc.stored.leaf.cert.SerialNumber) != 0; gotNewLeaf != tc.newLeaf {
				t.Errorf("new serving certificate: %v, want %v (reasons %q)", gotNewLeaf, tc.newLeaf, why)
			}
			if (got.previousCA != nil) != tc.keepsPreviousCA {
				t.Errorf("previous CA kept: %v, want %v", got.previousCA != nil, tc.keepsPreviousCA)
			}
			if !got.servable(tc.now) || !slices.Equal(got.leaf.cert.DNSNames, p.dnsNames) {
				t.Errorf("result cannot be served at %v for %v", tc.now, p.dnsNames)
			}
			if !signedBy(got.leaf, got.ca) && (got.previousCA == nil || got.leaf.cert.CheckSignatureFrom(got.previousCA) != nil) {
				t.Error("the served certificate is not signed by a CA in the caBundle")
			}
		})
	}
}

// TestPlan_CARotation walks a CA rotation through its three steps and checks
// that at every moment the served certificate is trusted by the caBundle.
func TestPlan_CARotation(t *testing.T) {
	p := testPlan()
	old := settled(t, p, bundle{}, t0)
	start := t0.Add(10 * year * 2 / 3)
	// By then the leaf has been renewed several times; the last a month ago.
	old.leaf = mustLeaf(t, old.ca, p.dnsNames, start.Add(-30*day))

	step1 := settled(t, p, old, start)
	if step1.previousCA == nil || !step1.previousCA.Equal(old.ca.cert) || step1.leaf != old.leaf {
		t.Fatal("step 1 must add a new CA, keep the old one as previous and keep serving the old leaf")
	}

	justBefore := start.Add(p.overlap - time.Second)
	if same, why, _ := p.next(step1, justBefore); len(why) != 0 || same.leaf != old.leaf {
		t.Fatalf("within the overlap nothing may change, got %q", why)
	}

	afterOverlap := start.Add(p.overlap)
	step2 := settled(t, p, step1, afterOverlap)
	if !signedBy(step2.leaf, step2.ca) || step2.previousCA == nil {
		t.Fatal("step 2 must serve a leaf from the new CA and still trust the old CA")
	}

	step3 := settled(t, p, step2, afterOverlap.Add(p.overlap))
	if step3.previousCA != nil || step3.leaf != step2.leaf {
		t.Fatal("step 3 must drop the old CA and keep the leaf")
	}
	if again, why, _ := p.next(step3, afterOverlap.Add(2*p.overlap)); len(why) != 0 || again.ca != step3.ca {
		t.Fatalf("after the rotation nothing may change, got %q", why)
	}
}

func TestBundleFromData_ignoresGarbage(t *testing.T) {
	b := bundleFromData(map[string][]byte{
		KeyCACert: []byte("not a certificate"), KeyCAKey: []byte("nor a key"),
		KeyCert: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
	})
	if b.ca != nil || b.leaf != nil || b.previousCA != nil {
		t.Fatalf("garbage parsed as %+v", b)
	}
	fresh := settled(t, testPlan(), bundle{}, t0)
	mixed := fresh.data()
	mixed[KeyKey] = fresh.data()[KeyCAKey] // the CA key does not belong to the leaf
	if bundleFromData(mixed).leaf != nil {
		t.Fatal("a leaf with a foreign key was accepted")
	}
}

// TestPlan_ShortLifetimes checks that the backdating of NotBefore does not
// count as life: a one-minute certificate is renewed after 40 seconds.
func TestPlan_ShortLifetimes(t *testing.T) {
	p := testPlan()
	p.caLifetime, p.leafLifetime = 3*time.Minute, time.Minute
	b := settled(t, p, bundle{}, t0)
	if _, why, _ := p.next(b, t0.Add(39*time.Second)); len(why) != 0 {
		t.Fatalf("renewed after 39 s of a one-minute life: %q", why)
	}
	if next, _, _ := p.next(b, t0.Add(40*time.Second)); next.leaf == b.leaf {
		t.Fatal("not renewed after 40 s of a one-minute life")
	}
}

func mustLeaf(t *testing.T, ca *keyPair, names []string, now time.Time) *keyPair {
	t.Helper()
	leaf, err := newLeaf(rand.Reader, ca, names, now, year)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}
