package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"sync"
	"time"
	"unsafe"
)

type keyAppend func(dst []byte, p unsafe.Pointer) []byte

// keyDecode decodes one value from the front of src into p and returns the
// rest of src.
type keyDecode func(src []byte, p unsafe.Pointer) ([]byte, error)

// KeyCodec encodes values of K into byte strings whose bytes.Compare order
// is K's natural order, and decodes them back. It is immutable and safe
// for concurrent use.
//
// The encoding, field by field:
//   - bool: one byte, 0 or 1.
//   - integers of any width: 8 bytes, big-endian, two's complement with the
//     sign bit flipped (so negatives sort first).
//   - float64 (8 bytes) and float32 (4 bytes): the IEEE bits, all of them
//     flipped for negatives and only the sign bit for positives, which gives
//     -Inf < … < -0 < +0 < … < +Inf; every NaN is encoded as all ones and
//     sorts last.
//   - time.Time: the instant, as Unix seconds (8 bytes, sign bit flipped)
//     then nanoseconds (4 bytes), ordered by instant for every time within
//     ±292 billion years of 1970; the location is dropped and decoding
//     returns UTC.
//   - string and []byte at top level: the raw bytes (see IdentityString).
//     Inside a struct: each 0x00 byte written as 0x00 0xFF, then the
//     terminator 0x00 0x01, so that a shorter string sorts before its
//     extensions whatever follows it.
//   - struct: its fields in order (skipping `bsp:"-"`), so keys compare
//     lexicographically by field.
//
// Equal keys give equal bytes, and Decode accepts only canonical encodings.
type KeyCodec[K any] struct {
	app   keyAppend
	dec   keyDecode
	ident bool
}

var keyCodecs sync.Map // reflect.Type -> *KeyCodec[K]

// KeyFor returns the key codec of K, building it on first use and caching
// it per type. K may be a bool, an integer, a float, a string, a []byte, a
// time.Time, or a struct of these (recursively); anything else (slices,
// maps, pointers, ...) is an error matching ErrUnsupportedType.
func KeyFor[K any]() (*KeyCodec[K], error) {
	t := reflect.TypeFor[K]()
	if c, ok := keyCodecs.Load(t); ok {
		return c.(*KeyCodec[K]), nil
	}
	kc := &KeyCodec[K]{}
	switch {
	case t.Kind() == reflect.String:
		kc.ident = true
		kc.app = func(dst []byte, p unsafe.Pointer) []byte { return append(dst, *(*string)(p)...) }
		kc.dec = func(src []byte, p unsafe.Pointer) ([]byte, error) {
			*(*string)(p) = string(src)
			return nil, nil
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		kc.ident = true
		kc.app = func(dst []byte, p unsafe.Pointer) []byte { return append(dst, *(*[]byte)(p)...) }
		kc.dec = func(src []byte, p unsafe.Pointer) ([]byte, error) {
			*(*[]byte)(p) = append(make([]byte, 0, len(src)), src...)
			return nil, nil
		}
	default:
		var err error
		if kc.app, kc.dec, err = compileKey(t, t.String()); err != nil {
			return nil, err
		}
	}
	actual, _ := keyCodecs.LoadOrStore(t, kc)
	return actual.(*KeyCodec[K]), nil
}

// Append appends the encoding of *k to dst and returns the extended
// slice. It does not retain k or dst and does not allocate beyond growing
// dst.
func (kc *KeyCodec[K]) Append(dst []byte, k *K) []byte { return kc.app(dst, unsafe.Pointer(k)) }

// Decode overwrites *k with the value src encodes; src must be exactly one
// encoding as Append produces it. The result does not alias src. Malformed
// input is an error matching ErrBadKey, never a panic; *k is then
// unspecified.
func (kc *KeyCodec[K]) Decode(src []byte, k *K) error {
	rest, err := kc.dec(src, unsafe.Pointer(k))
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadKey, len(rest))
	}
	return nil
}

// IdentityString reports whether K's kind is string or []byte at top
// level. Then the encoding of a key is its own bytes, unescaped, so
// callers may use the string itself as the key bytes without a copy.
func (kc *KeyCodec[K]) IdentityString() bool { return kc.ident }

func short(what string, n int) error {
	return fmt.Errorf("%w: %s needs %d bytes", ErrBadKey, what, n)
}

const signBit = 1 << 63

func compileKey(t reflect.Type, path string) (keyAppend, keyDecode, error) {
	switch t.Kind() {
	case reflect.Bool:
		return func(dst []byte, p unsafe.Pointer) []byte {
				if *(*bool)(p) {
					return append(dst, 1)
				}
				return append(dst, 0)
			}, func(src []byte, p unsafe.Pointer) ([]byte, error) {
				if len(src) < 1 || src[0] > 1 {
					return nil, fmt.Errorf("%w: bad bool", ErrBadKey)
				}
				*(*bool)(p) = src[0] == 1
				return src[1:], nil
			}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		size := t.Size()
		return func(dst []byte, p unsafe.Pointer) []byte {
				return binary.BigEndian.AppendUint64(dst, uint64(loadInt(p, size))^signBit)
			}, func(src []byte, p unsafe.Pointer) ([]byte, error) {
				if len(src) < 8 {
					return nil, short(t.String(), 8)
				}
				v := int64(binary.BigEndian.Uint64(src) ^ signBit)
				if storeInt(p, size, v); loadInt(p, size) != v {
					return nil, fmt.Errorf("%w: %d does not fit %s", ErrBadKey, v, t)
				}
				return src[8:], nil
			}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		size := t.Size()
		return func(dst []byte, p unsafe.Pointer) []byte {
				return binary.BigEndian.AppendUint64(dst, loadUint(p, size))
			}, func(src []byte, p unsafe.Pointer) ([]byte, error) {
				if len(src) < 8 {
					return nil, short(t.String(), 8)
				}
				v := binary.BigEndian.Uint64(src)
				if storeUint(p, size, v); loadUint(p, size) != v {
					return nil, fmt.Errorf("%w: %d does not fit %s", ErrBadKey, v, t)
				}
				return src[8:], nil
			}, nil
	case reflect.Float64:
		return func(dst []byte, p unsafe.Pointer) []byte {
				return binary.BigEndian.AppendUint64(dst, float64Key(*(*float64)(p)))
			}, func(src []byte, p unsafe.Pointer) ([]byte, error) {
				if len(src) < 8 {
					return nil, short("float64", 8)
				}
				f, ok := keyFloat64(binary.BigEndian.Uint64(src))
				if !ok {
					return nil, fmt.Errorf("%w: non-canonical NaN", ErrBadKey)
				}
				*(*float64)(p) = f
				return src[8:], nil
			}, nil
	case reflect.Float32:
		return func(dst []byte, p unsafe.Pointer) []byte {
				return binary.BigEndian.AppendUint32(dst, float32Key(*(*float32)(p)))
			}, func(src []byte, p unsafe.Pointer) ([]byte, error) {
				if len(src) < 4 {
					return nil, short("float32", 4)
				}
				f, ok := keyFloat32(binary.BigEndian.Uint32(src))
				if !ok {
					return nil, fmt.Errorf("%w: non-canonical NaN", ErrBadKey)
				}
				*(*float32)(p) = f
				return src[4:], nil
			}, nil
	case reflect.String:
		return func(dst []byte, p unsafe.Pointer) []byte {
				return appendEscaped(dst, *(*string)(p))
			}, func(src []byte, p unsafe.Pointer) ([]byte, error) {
				b, rest, err := readEscaped(src)
				if err != nil {
					return nil, err
				}
				*(*string)(p) = unsafe.String(unsafe.SliceData(b), len(b)) // b is fresh and never written again
				return rest, nil
			}, nil
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Uint8 {
			break
		}
		return func(dst []byte, p unsafe.Pointer) []byte {
				b := *(*[]byte)(p)
				return appendEscaped(dst, unsafe.String(unsafe.SliceData(b), len(b)))
			}, func(src []byte, p unsafe.Pointer) ([]byte, error) {
				b, rest, err := readEscaped(src)
				if err != nil {
					return nil, err
				}
				*(*[]byte)(p) = b
				return rest, nil
			}, nil
	case reflect.Struct:
		if t == timeType {
			return appendTimeKey, decodeTimeKey, nil
		}
		return structKey(t, path)
	}
	return nil, nil, &TypeError{Path: path, Type: t, Reason: fmt.Sprintf(
		"unsupported key type %s (keys are bools, numbers, strings, []byte, time.Time or structs of them)", t)}
}

func structKey(t reflect.Type, path string) (keyAppend, keyDecode, error) {
	var apps []keyAppend
	var decs []keyDecode
	var offs []uintptr
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if _, skip := fieldName(f); skip {
			continue
		}
		fpath := path + "." + f.Name
		if !f.IsExported() {
			return nil, nil, unexported(fpath, f.Type)
		}
		a, d, err := compileKey(f.Type, fpath)
		if err != nil {
			return nil, nil, err
		}
		apps, decs, offs = append(apps, a), append(decs, d), append(offs, f.Offset)
	}
	return func(dst []byte, p unsafe.Pointer) []byte {
			for i, a := range apps {
				dst = a(dst, unsafe.Add(p, offs[i]))
			}
			return dst
		}, func(src []byte, p unsafe.Pointer) ([]byte, error) {
			var err error
			for i, d := range decs {
				if src, err = d(src, unsafe.Add(p, offs[i])); err != nil {
					return nil, err
				}
			}
			return src, nil
		}, nil
}

func appendTimeKey(dst []byte, p unsafe.Pointer) []byte {
	tm := (*time.Time)(p)
	dst = binary.BigEndian.AppendUint64(dst, uint64(tm.Unix())^signBit)
	return binary.BigEndian.AppendUint32(dst, uint32(tm.Nanosecond()))
}

func decodeTimeKey(src []byte, p unsafe.Pointer) ([]byte, error) {
	if len(src) < 12 {
		return nil, short("time.Time", 12)
	}
	sec := int64(binary.BigEndian.Uint64(src) ^ signBit)
	ns := binary.BigEndian.Uint32(src[8:])
	if ns >= 1e9 {
		return nil, fmt.Errorf("%w: time nanoseconds %d", ErrBadKey, ns)
	}
	*(*time.Time)(p) = time.Unix(sec, int64(ns)).UTC()
	return src[12:], nil
}

// Canonical encodings of NaN: all ones, above +Inf.
const (
	nanKey64 = math.MaxUint64
	nanKey32 = math.MaxUint32
)

func float64Key(f float64) uint64 {
	if f != f {
		return nanKey64
	}
	b := math.Float64bits(f)
	if b&signBit != 0 {
		return ^b
	}
	return b | signBit
}

// keyFloat64 inverts float64Key; ok is false for a NaN that float64Key
// would not produce.
func keyFloat64(k uint64) (f float64, ok bool) {
	if k == nanKey64 {
		return math.NaN(), true
	}
	if k&signBit != 0 {
		f = math.Float64frombits(k &^ signBit)
	} else {
		f = math.Float64frombits(^k)
	}
	return f, f == f
}

func float32Key(f float32) uint32 {
	if f != f {
		return nanKey32
	}
	b := math.Float32bits(f)
	if b&(1<<31) != 0 {
		return ^b
	}
	return b | 1<<31
}

func keyFloat32(k uint32) (f float32, ok bool) {
	if k == nanKey32 {
		return float32(math.NaN()), true
	}
	if k&(1<<31) != 0 {
		f = math.Float32frombits(k &^ (1 << 31))
	} else {
		f = math.Float32frombits(^k)
	}
	return f, f == f
}

func appendEscaped(dst []byte, s string) []byte {
	for {
		i := indexZero(s)
		if i < 0 {
			break
		}
		dst = append(append(dst, s[:i]...), 0, 0xFF)
		s = s[i+1:]
	}
	return append(append(dst, s...), 0, 1)
}

func indexZero(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return i
		}
	}
	return -1
}

// readEscaped decodes an escaped, terminated string from the front of src
// into a new slice and returns the rest of src.
func readEscaped(src []byte) (out, rest []byte, err error) {
	// Find the terminator and the decoded length first, to allocate once.
	n, end := 0, -1
	for i := 0; i < len(src) && end < 0; i++ {
		if src[i] != 0 {
			n++
			continue
		}
		if i+1 >= len(src) {
			break
		}
		switch src[i+1] {
		case 0xFF:
			n++
			i++
		case 1:
			end = i
		default:
			return nil, nil, fmt.Errorf("%w: bad escape 0x00 0x%02x", ErrBadKey, src[i+1])
		}
	}
	if end < 0 {
		return nil, nil, fmt.Errorf("%w: unterminated string", ErrBadKey)
	}
	out = make([]byte, 0, n)
	body := src[:end]
	for {
		i := bytes.IndexByte(body, 0)
		if i < 0 {
			break
		}
		out = append(append(out, body[:i]...), 0)
		body = body[i+2:]
	}
	return append(out, body...), src[end+2:], nil
}
