package webhook

import "bytes"

// A review's memory is not proportional to its size. Decoded, a pod takes
// several times its JSON: an empty container, "{}" (3 bytes), is a 408-byte
// corev1.Container, decoded once, copied by the mutation, encoded twice for
// the patch. Measured through ServeHTTP (peak heap over the body, GC at 10%):
// one 6.5 MB annotation 4.7x; 162k env vars 7x; 268k annotations 17x; 2.2M
// empty args 31x; 217k empty ports 60x; 130k null volumes 172x; 217k empty
// volumes 317x; 217k empty containers 748x (486 MB for a 650 KB review).
//
// So a review is charged by its shape, read by one pass over its bytes:
// per byte, per value (a "," outside strings: one more array element or
// object member), per object or null (it may become a struct), and more per
// object or null in an array of containers or volumes, the largest structs a
// pod holds. The constants cover every shape above with a margin. They
// overcharge most pods (the benchmarks' 6.5 KB review of a Rails worker is
// charged 212 KiB, 162k env vars 32x their size): a budget that is never
// exceeded is worth more than one filled to the byte.
const (
	costPerByte      = 6
	costPerValue     = 384
	costPerObject    = 384
	costPerBigObject = 3072
	// costPerReview is what a review costs besides its body: its goroutine,
	// buffers, the answer.
	costPerReview = 32 << 10
)

// bigArrays are the members whose elements are the largest structs of a pod
// (corev1.Container and EphemeralContainer about 420 bytes, Volume 256).
var bigArrays = map[string]bool{
	"containers": true, "initContainers": true, "ephemeralContainers": true, "volumes": true,
}

// reviewCost is the memory handling body is charged, in bytes. It reads the
// bytes once and allocates only a stack of nesting levels; it does not
// validate the JSON (the decoder does) and never fails.
func reviewCost(body []byte) int64 {
	s := shapeScanner{body: body}
	s.scan()
	return costPerReview + costPerByte*int64(len(body)) + costPerValue*s.values +
		costPerObject*s.objects + costPerBigObject*s.bigObjects
}

type shapeScanner struct {
	body                        []byte
	values, objects, bigObjects int64
	// levels holds, for each open array or object, whether it is an array
	// of big structs (true) or anything else (false).
	levels []bool
	// key is the last string read when it was followed by ':'.
	key        []byte
	afterColon bool
}

func (s *shapeScanner) scan() {
	b := s.body
	var last []byte // the last string read
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			end := closingQuote(b, i+1)
			if end < 0 { // unterminated: the decoder says so
				return
			}
			last = b[i+1 : end]
			i = end
			continue
		case ':':
			s.key, s.afterColon = last, true
			continue
		case ',':
			s.values++
		case '[':
			s.levels = append(s.levels, s.afterColon && isBigArray(s.key))
		case '{':
			s.countStruct()
			s.levels = append(s.levels, false)
		case 'n':
			s.countStruct()
		case ']', '}':
			if len(s.levels) > 0 {
				s.levels = s.levels[:len(s.levels)-1]
			}
		}
		s.afterColon = false
	}
}

// closingQuote is the index of the quote that ends the string whose
// contents start at b[i], or -1. (The patch engine's stringEnd does the same
// with bytes.IndexByte; the two measured alike on a pod's short strings, and
// the budget stays apart from the patch engine.)
func closingQuote(b []byte, i int) int {
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i
		case '\\':
			i++ // the escaped byte, whatever it is
		}
	}
	return -1
}

// countStruct counts an object or null, which may decode into a struct.
func (s *shapeScanner) countStruct() {
	if n := len(s.levels); n > 0 && s.levels[n-1] {
		s.bigObjects++
	} else {
		s.objects++
	}
}

// isBigArray: an escaped member name ("contain\u0065rs") may be any name, so
// it counts as big.
func isBigArray(key []byte) bool {
	return bigArrays[string(key)] || bytes.IndexByte(key, '\\') >= 0
}
