package codec

import (
	"bytes"
	"cmp"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// keyOrder checks on random pairs that key bytes order like compare, that
// equal keys give equal bytes, and that Decode inverts Append.
func keyOrder[K any](t *testing.T, gen func(*rand.Rand) K, compare func(a, b K) int, eq func(a, b K) bool) {
	t.Helper()
	r := seeded(t)
	kc, err := KeyFor[K]()
	if err != nil {
		t.Fatal(err)
	}
	for range 20000 {
		a, b := gen(r), gen(r)
		ka, kb := kc.Append(nil, &a), kc.Append(nil, &b)
		if got, want := bytes.Compare(ka, kb), compare(a, b); got != want {
			t.Fatalf("order of %#v and %#v: bytes say %d, want %d", a, b, got, want)
		}
		var d K
		if err := kc.Decode(ka, &d); err != nil || !eq(d, a) {
			t.Fatalf("decode %#v: got %#v, %v", a, d, err)
		}
		// Appending keeps what dst held.
		if got := kc.Append([]byte("prefix"), &a); !bytes.Equal(got[6:], ka) || string(got[:6]) != "prefix" {
			t.Fatalf("Append to a non-empty dst: %x", got)
		}
	}
}

func pick[E any](r *rand.Rand, edges []E, gen func() E) E {
	if r.IntN(3) == 0 {
		return edges[r.IntN(len(edges))]
	}
	return gen()
}

// floatOrder is the order keys promise: -Inf < ... < -0 < +0 < ... < +Inf
// < NaN, all NaNs equal.
func floatOrder[F float32 | float64](a, b F) int {
	an, bn := a != a, b != b
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a == 0 && b == 0:
		return cmp.Compare(boolInt(!math.Signbit(float64(a))), boolInt(!math.Signbit(float64(b))))
	}
	return cmp.Compare(a, b)
}

func floatEq[F float32 | float64](a, b F) bool { return floatOrder(a, b) == 0 }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func same[K comparable](a, b K) bool { return a == b }

type pair struct {
	A string
	B int32
}

type composite struct {
	S    string
	Raw  []byte
	N    int8
	U    uint16
	F    float32
	T    time.Time
	OK   bool
	In   pair
	Skip []int `bsp:"-"`
}

func TestKeyOrder(t *testing.T) {
	edgeInts := []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, 1, math.MaxInt64 - 1, math.MaxInt64}
	t.Run("int64", func(t *testing.T) {
		keyOrder(t, func(r *rand.Rand) int64 {
			return pick(r, edgeInts, func() int64 {
				if r.IntN(2) == 0 {
					return int64(r.Uint64())
				}
				return r.Int64N(2000) - 1000
			})
		}, cmp.Compare[int64], same[int64])
	})
	t.Run("int", func(t *testing.T) {
		keyOrder(t, func(r *rand.Rand) int { return int(r.Uint64() >> r.IntN(64)) }, cmp.Compare[int], same[int])
	})
	t.Run("int8", func(t *testing.T) {
		keyOrder(t, func(r *rand.Rand) int8 { return int8(r.Uint32()) }, cmp.Compare[int8], same[int8])
	})
	t.Run("uint64", func(t *testing.T) {
		keyOrder(t, func(r *rand.Rand) uint64 {
			return pick(r, []uint64{0, 1, math.MaxUint64}, func() uint64 { return r.Uint64() >> r.IntN(64) })
		}, cmp.Compare[uint64], same[uint64])
	})
	t.Run("uint32", func(t *testing.T) {
		keyOrder(t, func(r *rand.Rand) uint32 { return r.Uint32() >> r.IntN(32) }, cmp.Compare[uint32], same[uint32])
	})
	t.Run("bool", func(t *testing.T) {
		keyOrder(t, func(r *rand.Rand) bool { return r.IntN(2) == 0 },
			func(a, b bool) int { return cmp.Compare(boolInt(a), boolInt(b)) }, same[bool])
	})
	edgeFloats := []float64{math.Inf(-1), -math.MaxFloat64, -1e300, -0.5, -math.SmallestNonzeroFloat64, math.Copysign(0, -1), 0,
		math.SmallestNonzeroFloat64, 0.5, 1e300, math.MaxFloat64, math.Inf(1), math.NaN(), -math.NaN(),
		math.Float64frombits(0x7FF0000000000001)}
	t.Run("float64", func(t *testing.T) {
		keyOrder(t, func(r *rand.Rand) float64 {
			return pick(r, edgeFloats, func() float64 { return r.NormFloat64() * 100 })
		}, floatOrder[float64], floatEq[float64])
	})
	t.Run("float32", func(t *testing.T) {
		keyOrder(t, func(r *rand.Rand) float32 {
			return float32(pick(r, edgeFloats, func() float64 { return r.NormFloat64() * 100 }))
		}, floatOrder[float32], floatEq[float32])
	})
	t.Run("string", func(t *testing.T) {
		keyOrder(t, randString, strings.Compare, same[string])
	})
	t.Run("bytes", func(t *testing.T) {
		keyOrder(t, func(r *rand.Rand) []byte { return []byte(randString(r)) }, bytes.Compare,
			func(a, b []byte) bool { return bytes.Equal(a, b) })
	})
	t.Run("time", func(t *testing.T) {
		keyOrder(t, func(r *rand.Rand) time.Time {
			return pick(r, []time.Time{{}, time.Unix(0, 0), time.Unix(-1, 999999999), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)},
				func() time.Time { return time.Unix(r.Int64N(1<<40)-1<<39, r.Int64N(1e9)).In(time.FixedZone("x", 3600)) })
		}, func(a, b time.Time) int { return a.Compare(b) }, func(a, b time.Time) bool { return a.Equal(b) })
	})
	t.Run("pair", func(t *testing.T) {
		keyOrder(t, func(r *rand.Rand) pair {
			return pair{A: randString(r), B: int32(r.IntN(5)) - 2}
		}, func(a, b pair) int {
			if c := strings.Compare(a.A, b.A); c != 0 {
				return c
			}
			return cmp.Compare(a.B, b.B)
		}, same[pair])
	})
	t.Run("composite", func(t *testing.T) {
		keyOrder(t, randComposite, func(a, b composite) int {
			return cmp.Or(
				strings.Compare(a.S, b.S),
				bytes.Compare(a.Raw, b.Raw),
				cmp.Compare(a.N, b.N),
				cmp.Compare(a.U, b.U),
				floatOrder(a.F, b.F),
				a.T.Compare(b.T),
				cmp.Compare(boolInt(a.OK), boolInt(b.OK)),
				strings.Compare(a.In.A, b.In.A),
				cmp.Compare(a.In.B, b.In.B),
			)
		}, func(a, b composite) bool {
			return a.S == b.S && bytes.Equal(a.Raw, b.Raw) && a.N == b.N && a.U == b.U && floatEq(a.F, b.F) &&
				a.T.Equal(b.T) && a.OK == b.OK && a.In == b.In
		})
	})
}

func randComposite(r *rand.Rand) composite {
	return composite{S: []string{"", "a", "a\x00", "ab", "\x00"}[r.IntN(5)], Raw: []byte(randString(r)),
		N: int8(r.IntN(3)) - 1, U: uint16(r.IntN(3)), F: float32(r.IntN(3)) - 1, T: time.Unix(r.Int64N(3), 0),
		OK: r.IntN(2) == 0, In: pair{A: randString(r), B: int32(r.IntN(3))}}
}

func TestKeyIdentity(t *testing.T) {
	kc, err := KeyFor[string]()
	if err != nil {
		t.Fatal(err)
	}
	if !kc.IdentityString() {
		t.Fatal("string keys must be identity-encoded")
	}
	s := "a\x00b"
	if string(kc.Append(nil, &s)) != s {
		t.Fatal("identity encoding changed the bytes")
	}
	type word string
	if kw, _ := KeyFor[word](); !kw.IdentityString() {
		t.Fatal("named string types are identity-encoded too")
	}
	kb, _ := KeyFor[[]byte]()
	b := []byte("x\x00")
	if !kb.IdentityString() || !bytes.Equal(kb.Append(nil, &b), b) {
		t.Fatal("[]byte keys must be identity-encoded")
	}
	var back []byte
	src := []byte("abc")
	if err := kb.Decode(src, &back); err != nil || string(back) != "abc" {
		t.Fatalf("decode: %q %v", back, err)
	}
	src[0] = 'X'
	if string(back) != "abc" {
		t.Fatal("Decode result aliases its input")
	}
	for _, k := range []any{mustKey[int64](t), mustKey[pair](t), mustKey[time.Time](t)} {
		if k.(interface{ IdentityString() bool }).IdentityString() {
			t.Errorf("%T must not be identity-encoded", k)
		}
	}
}

func mustKey[K any](t *testing.T) *KeyCodec[K] {
	kc, err := KeyFor[K]()
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

func TestKeyUnsupported(t *testing.T) {
	type withSlice struct {
		A string
		B []int
	}
	type withPtr struct{ P *int }
	type private struct{ x int }
	_ = private{x: 1}
	for _, c := range []struct {
		err  error
		want string
	}{
		{keyErr[[]int](), "codec: []int: unsupported key type []int"},
		{keyErr[withSlice](), "codec: codec.withSlice.B: unsupported key type []int"},
		{keyErr[withPtr](), "codec: codec.withPtr.P: unsupported key type *int"},
		{keyErr[map[string]int](), "codec: map[string]int: unsupported key type map[string]int"},
		{keyErr[*string](), "codec: *string: unsupported key type *string"},
		{keyErr[private](), "codec: codec.private.x: unexported field"},
	} {
		if !errors.Is(c.err, ErrUnsupportedType) || c.err == nil || !strings.HasPrefix(c.err.Error(), c.want) {
			t.Errorf("error %v, want ErrUnsupportedType starting %q", c.err, c.want)
		}
	}
}

func keyErr[K any]() error {
	_, err := KeyFor[K]()
	return err
}

// TestKeyDecodeGarbage feeds random and mutated bytes to Decode: it must
// return ErrBadKey or a value that re-encodes to exactly the input.
func TestKeyDecodeGarbage(t *testing.T) {
	r := seeded(t)
	checkGarbage[composite](t, r, randComposite)
	checkGarbage(t, r, func(r *rand.Rand) float64 { return r.NormFloat64() })
	checkGarbage(t, r, func(r *rand.Rand) int16 { return int16(r.Uint32()) })
	checkGarbage(t, r, func(r *rand.Rand) bool { return true })
	checkGarbage(t, r, func(r *rand.Rand) time.Time { return time.Unix(r.Int64(), 0) })
	checkGarbage(t, r, func(r *rand.Rand) pair { return pair{A: randString(r)} })
}

func checkGarbage[K any](t *testing.T, r *rand.Rand, gen func(*rand.Rand) K) {
	kc := mustKey[K](t)
	for range 5000 {
		v := gen(r)
		b := kc.Append(nil, &v)
		switch r.IntN(3) {
		case 0: // random bytes
			b = make([]byte, r.IntN(40))
			for i := range b {
				b[i] = []byte{0, 1, 0xFF, byte(r.Uint32())}[r.IntN(4)]
			}
		case 1: // truncated
			b = b[:r.IntN(len(b)+1)]
		default: // one byte changed
			if len(b) > 0 {
				b[r.IntN(len(b))] = byte(r.Uint32())
			}
		}
		var out K
		err := kc.Decode(b, &out)
		if err != nil {
			if !errors.Is(err, ErrBadKey) {
				t.Fatalf("%T: error %v does not match ErrBadKey", out, err)
			}
			continue
		}
		if again := kc.Append(nil, &out); !bytes.Equal(again, b) {
			t.Fatalf("%T: decode(%x) = %+v re-encodes to %x", out, b, out, again)
		}
	}
}

func FuzzKeyDecode(f *testing.F) {
	kc, err := KeyFor[composite]()
	if err != nil {
		f.Fatal(err)
	}
	v := composite{S: "x\x00y", Raw: []byte{0, 1}, N: -3, T: time.Unix(5, 6), F: 1.5, In: pair{A: "q", B: 9}}
	f.Add(kc.Append(nil, &v))
	f.Add([]byte{0, 1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var out composite
		if err := kc.Decode(b, &out); err != nil {
			if !errors.Is(err, ErrBadKey) {
				t.Fatalf("error %v does not match ErrBadKey", err)
			}
			return
		}
		if again := kc.Append(nil, &out); !bytes.Equal(again, b) {
			t.Fatalf("decode(%x) = %+v re-encodes to %x", b, out, again)
		}
	})
}

func TestKeyAppendDoesNotAllocate(t *testing.T) {
	kc := mustKey[pair](t)
	k := pair{A: "abc\x00", B: 7}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = kc.Append(buf[:0], &k) }); n != 0 {
		t.Fatalf("Append allocates %v times", n)
	}
	var d pair
	if err := kc.Decode(buf, &d); err != nil || !reflect.DeepEqual(d, k) {
		t.Fatalf("decode: %+v %v", d, err)
	}
}

func BenchmarkKeyAppend(b *testing.B) {
	kc, _ := KeyFor[pair]()
	k := pair{A: "superstep", B: 42}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = kc.Append(buf[:0], &k)
	}
}
