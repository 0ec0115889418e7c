package webhook

import (
	"strings"
	"testing"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// TestReviewCost: the scan counts what a review decodes into, so a review
// is charged by its shape, not only its size.
func TestReviewCost(t *testing.T) {
	tests := map[string]struct {
		body                             string
		wantValues, wantObjects, wantBig int64
	}{
		"a string costs its bytes only": {body: `"a{b}[c],d:null"`},
		"members and elements are values": {
			body: `{"a":[1,2,3],"b":"x"}`, wantValues: 3, wantObjects: 1,
		},
		"an empty container is a big object": {
			body: `{"containers":[{},{}]}`, wantValues: 1, wantObjects: 1, wantBig: 2,
		},
		"a null volume is a big object": {
			body: `{"volumes":[null,null,{}]}`, wantValues: 2, wantObjects: 1, wantBig: 3,
		},
		"the objects inside a container are small": {
			body: `{"initContainers":[{"env":[{}],"ports":[null]}]}`, wantValues: 1, wantObjects: 3, wantBig: 1,
		},
		"a member named containers that holds no array costs as usual": {
			body: `{"containers":{},"x":"containers","y":[{}]}`, wantValues: 2, wantObjects: 3,
		},
		"an escaped member name may be containers": {
			body: `{"contain\u0065rs":[{}]}`, wantObjects: 1, wantBig: 1,
		},
		"an escaped quote does not end a string": {
			body: `{"a":"\"[{\\","containers":[{}]}`, wantValues: 1, wantObjects: 1, wantBig: 1,
		},
		"an unterminated string ends the scan": {body: `{"a":"[{{{`, wantObjects: 1},
		"unbalanced brackets do not panic":     {body: `]]}}[{`, wantObjects: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := shapeScanner{body: []byte(tc.body)}
			s.scan()
			if s.values != tc.wantValues || s.objects != tc.wantObjects || s.bigObjects != tc.wantBig {
				t.Errorf("values %d, objects %d, big objects %d; want %d, %d, %d",
					s.values, s.objects, s.bigObjects, tc.wantValues, tc.wantObjects, tc.wantBig)
			}
		})
	}
}

// TestReviewCost_Bounds: the benchmarks' 6.5 KB review of a Rails worker
// is charged under 256 KiB, so about two hundred fit the default budget; a
// review of empty containers is charged hundreds of times its size, and is
// refused before it is decoded.
func TestReviewCost_Bounds(t *testing.T) {
	normal := testkit.CompactBenchReview(t)
	if cost := reviewCost(normal); cost > 256<<10 {
		t.Errorf("the bench review of %d bytes costs %d, over 256 KiB", len(normal), cost)
	} else {
		t.Logf("the bench review of %d bytes costs %d", len(normal), cost)
	}
	bomb := []byte(`{"spec":{"containers":[` + strings.Repeat(`{},`, 20_000) + `{}]}}`)
	if cost := reviewCost(bomb); cost < DefaultReviewMemory {
		t.Errorf("20,000 empty containers (%d bytes) cost %d, under the default budget %d", len(bomb), cost, DefaultReviewMemory)
	}
}

// BenchmarkReviewCost: the scan's share of an admission, on the benchmarks'
// 6.5 KB review.
func BenchmarkReviewCost(b *testing.B) {
	review := testkit.CompactBenchReview(b)
	b.SetBytes(int64(len(review)))
	for b.Loop() {
		reviewCost(review)
	}
}
