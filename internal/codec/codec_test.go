package codec

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

type inner struct {
	A int16
	B string
}

type leaf struct {
	Words []string
	When  *time.Time
}

type middle struct {
	Leaf  leaf
	Leafs []leaf
	PLeaf *leaf
}

type rich struct {
	B      bool
	I      int
	I8     int8
	I16    int16
	I32    int32
	I64    int64
	U      uint
	U8     uint8
	U16    uint16
	U32    uint32
	U64    uint64
	F32    float32
	F64    float64
	S      string
	Raw    []byte
	T      time.Time
	Strs   []string
	Nest   inner
	Nests  []inner
	Deep   [][]int32
	Deeper [][]string
	Bytes  [][]byte
	Ptrs   []*int32
	PS     *string
	PN     *inner
	PT     *time.Time
	PB     *bool
	Mid    middle
	Named  int               `bsp:"renamed"`
	Skip   chan int          `bsp:"-"`
	Meta   map[string]string `bsp:"-"`
	hidden int               `bsp:"-"`
}

func seeded(t testing.TB) *rand.Rand {
	s := uint64(time.Now().UnixNano())
	t.Logf("seed %d", s)
	return rand.New(rand.NewPCG(s, 7))
}

func randString(r *rand.Rand) string {
	alphabet := []string{"a", "é", "\x00", "z", "日本", "\t", "", "\\", "\n", "🙂", "\xff"}
	var b strings.Builder
	for range r.IntN(6) {
		b.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

// maybe returns nil or a non-nil slice (possibly empty) of n values.
func maybe[E any](r *rand.Rand, gen func() E) []E {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []E{}
	}
	out := make([]E, 1+r.IntN(3))
	for i := range out {
		out[i] = gen()
	}
	return out
}

func randTime(r *rand.Rand) time.Time {
	if r.IntN(5) == 0 {
		return time.Time{}
	}
	return time.Unix(r.Int64N(1<<33)-1<<32, r.Int64N(1e9)).UTC()
}

func randLeaf(r *rand.Rand) leaf {
	l := leaf{Words: maybe(r, func() string { return randString(r) })}
	if r.IntN(2) == 0 {
		tm := time.Unix(r.Int64N(1<<31), 0).UTC()
		l.When = &tm
	}
	return l
}

func randRich(r *rand.Rand) rich {
	v := rich{B: r.IntN(2) == 0, I: r.Int() - r.Int(), I8: int8(r.Uint32()), I16: int16(r.Uint32()), I32: int32(r.Uint32()),
		I64: int64(r.Uint64()), U: uint(r.Uint64()), U8: uint8(r.Uint32()), U16: uint16(r.Uint32()), U32: r.Uint32(),
		U64: r.Uint64(), F32: r.Float32() - 0.5, F64: r.NormFloat64(), S: randString(r), T: randTime(r),
		Named: r.IntN(100)}
	if r.IntN(3) > 0 {
		v.Raw = []byte(randString(r))
	}
	v.Strs = maybe(r, func() string { return randString(r) })
	v.Nests = maybe(r, func() inner { return inner{A: int16(r.IntN(100)), B: randString(r)} })
	v.Deep = maybe(r, func() []int32 { return maybe(r, func() int32 { return int32(r.Uint32()) }) })
	v.Deeper = maybe(r, func() []string { return maybe(r, func() string { return randString(r) }) })
	v.Bytes = maybe(r, func() []byte {
		if r.IntN(3) == 0 {
			return nil
		}
		return []byte(randString(r))
	})
	v.Ptrs = maybe(r, func() *int32 {
		if r.IntN(2) == 0 {
			return nil
		}
		x := int32(r.IntN(50))
		return &x
	})
	v.Nest = inner{A: int16(r.IntN(1000)), B: randString(r)}
	if r.IntN(2) == 0 {
		s := randString(r)
		v.PS = &s
		v.PN = &inner{A: 3, B: s}
		tm := time.Unix(r.Int64N(1<<31), r.Int64N(1e9)).UTC()
		v.PT = &tm
		b := r.IntN(2) == 0
		v.PB = &b
	}
	v.Mid = middle{Leaf: randLeaf(r), Leafs: maybe(r, func() leaf { return randLeaf(r) })}
	if r.IntN(2) == 0 {
		l := randLeaf(r)
		v.Mid.PLeaf = &l
	}
	v.hidden = 1 // skipped, so it reads back as whatever *v held
	return v
}

// scribble overwrites every buffer of arr and its children, so that a
// value still aliasing Arrow memory would show.
func scribble(d arrow.ArrayData) {
	for _, b := range d.Buffers() {
		if b != nil {
			bs := b.Bytes()
			for i := range bs {
				bs[i] = 0xAB
			}
		}
	}
	for _, c := range d.Children() {
		scribble(c)
	}
}

func TestRoundTrip(t *testing.T) {
	r := seeded(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, err := For[rich]()
	if err != nil {
		t.Fatal(err)
	}
	if c2, _ := For[rich](); c2 != c {
		t.Fatal("For does not cache")
	}
	if f := c.Schema().Field(28); f.Name != "renamed" || c.Schema().NumFields() != 29 {
		t.Fatalf("schema: %s", c.Schema())
	}
	b := c.NewBuilder(mem)
	defer b.Release()
	for batch := range 2 { // the builder stays usable after NewRecord
		in := make([]rich, 1000+batch)
		for i := range in {
			in[i] = randRich(r)
		}
		prev := 0
		for i := range in {
			b.Append(&in[i])
			if b.Bytes() <= prev {
				t.Fatalf("Bytes did not grow: %d then %d", prev, b.Bytes())
			}
			prev = b.Bytes()
		}
		if b.Len() != len(in) {
			t.Fatalf("Len %d, want %d", b.Len(), len(in))
		}
		rec := b.NewRecord()
		if b.Len() != 0 || b.Bytes() != 0 || rec.NumRows() != int64(len(in)) {
			t.Fatalf("after NewRecord: Len %d Bytes %d rows %d", b.Len(), b.Bytes(), rec.NumRows())
		}
		rd, err := c.NewReader(rec)
		if err != nil {
			t.Fatal(err)
		}
		if rd.Len() != len(in) {
			t.Fatalf("reader Len %d", rd.Len())
		}
		out := make([]rich, len(in))
		for i := range out {
			out[i].Named = -1 // Read overwrites columns...
			out[i].hidden = 1 // ...and leaves skipped fields alone
			rd.Read(i, &out[i])
		}
		// Values read must not alias the record: wreck it, then compare.
		for _, col := range rec.Columns() {
			scribble(col.Data())
		}
		rec.Release()
		for i := range in {
			if !reflect.DeepEqual(in[i], out[i]) {
				t.Fatalf("row %d:\n in %+v\nout %+v", i, in[i], out[i])
			}
		}
	}
}

func TestSlicedRecord(t *testing.T) {
	r := seeded(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, err := For[rich]()
	if err != nil {
		t.Fatal(err)
	}
	b := c.NewBuilder(mem)
	defer b.Release()
	in := make([]rich, 100)
	for i := range in {
		in[i] = randRich(r)
		b.Append(&in[i])
	}
	rec := b.NewRecord()
	defer rec.Release()
	sl := rec.NewSlice(37, 81)
	defer sl.Release()
	rd, err := c.NewReader(sl)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rd.Len() {
		v := rich{hidden: 1}
		rd.Read(i, &v)
		if !reflect.DeepEqual(v, in[37+i]) {
			t.Fatalf("sliced row %d:\n in %+v\nout %+v", i, in[37+i], v)
		}
	}
}

func TestTopLevelScalar(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, err := For[string]()
	if err != nil {
		t.Fatal(err)
	}
	if c.Schema().NumFields() != 1 || c.Schema().Field(0).Name != "value" {
		t.Fatalf("schema %s", c.Schema())
	}
	b := c.NewBuilder(mem)
	defer b.Release()
	for _, s := range []string{"x", "", "yz"} {
		b.Append(&s)
	}
	rec := b.NewRecord()
	defer rec.Release()
	rd, err := c.NewReader(rec)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range rd.Len() {
		var s string
		rd.Read(i, &s)
		got = append(got, s)
	}
	if strings.Join(got, ",") != "x,,yz" {
		t.Fatalf("got %q", got)
	}

	// A top-level slice is a single list column.
	cl, err := For[[]int]()
	if err != nil {
		t.Fatal(err)
	}
	bl := cl.NewBuilder(mem)
	defer bl.Release()
	in := [][]int{{1, 2}, nil, {}}
	for i := range in {
		bl.Append(&in[i])
	}
	lrec := bl.NewRecord()
	defer lrec.Release()
	lrd, err := cl.NewReader(lrec)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		var v []int
		lrd.Read(i, &v)
		if !reflect.DeepEqual(v, in[i]) {
			t.Fatalf("row %d: %#v, want %#v", i, v, in[i])
		}
	}
}

func TestSchemaMismatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	type ab struct {
		A string
		B []int64
	}
	c, err := For[ab]()
	if err != nil {
		t.Fatal(err)
	}
	b := c.NewBuilder(mem)
	defer b.Release()
	b.Append(&ab{A: "x", B: []int64{1}})
	rec := b.NewRecord()
	defer rec.Release()

	// Nullability may differ.
	fields := c.Schema().Fields()
	for i := range fields {
		fields[i].Nullable = !fields[i].Nullable
	}
	flipped := array.NewRecordBatch(arrow.NewSchema(fields, nil), rec.Columns(), rec.NumRows())
	defer flipped.Release()
	rd, err := c.NewReader(flipped)
	if err != nil {
		t.Fatalf("nullability must not matter: %v", err)
	}
	var v ab
	rd.Read(0, &v)
	if v.A != "x" || len(v.B) != 1 || v.B[0] != 1 {
		t.Fatalf("read %+v", v)
	}

	type renamed struct {
		A string
		C []int64
	}
	type retyped struct {
		A string
		B []int32
	}
	type fewer struct{ A string }
	for name, err := range map[string]error{
		"renamed": func() error { c, _ := For[renamed](); _, err := c.NewReader(rec); return err }(),
		"retyped": func() error { c, _ := For[retyped](); _, err := c.NewReader(rec); return err }(),
		"fewer":   func() error { c, _ := For[fewer](); _, err := c.NewReader(rec); return err }(),
		"scalar":  func() error { c, _ := For[int64](); _, err := c.NewReader(rec); return err }(),
	} {
		if !errors.Is(err, ErrSchemaMismatch) {
			t.Errorf("%s: want ErrSchemaMismatch, got %v", name, err)
		}
	}
}

func TestUnsupportedTypes(t *testing.T) {
	type withMap struct {
		Name string
		Meta map[string]string
	}
	type nested struct{ In withMap }
	type private struct{ x int }
	_ = private{x: 1}
	type node struct{ Next *node }
	type tree struct {
		Name string
		Kids []tree
	}
	type listOfMaps struct{ L []map[string]int }
	type ptrPtr struct{ P **int }
	type arr struct{ A [4]int }
	type iface struct{ V any }
	type fn struct{ F func() }
	cases := []struct {
		err  error
		want string
	}{
		{errOf[withMap](), "codec: codec.withMap.Meta: unsupported type map[string]string"},
		{errOf[nested](), "codec: codec.nested.In.Meta: unsupported type map[string]string"},
		{errOf[private](), "codec: codec.private.x: unexported field (export it or tag it `bsp:\"-\"`)"},
		{errOf[node](), "codec: codec.node.Next: unsupported recursive type codec.node"},
		{errOf[tree](), "codec: codec.tree.Kids[]: unsupported recursive type codec.tree"},
		{errOf[listOfMaps](), "codec: codec.listOfMaps.L[]: unsupported type map[string]int"},
		{errOf[ptrPtr](), "codec: codec.ptrPtr.P: unsupported type **int (pointer to pointer)"},
		{errOf[arr](), "codec: codec.arr.A: unsupported type [4]int"},
		{errOf[iface](), "codec: codec.iface.V: unsupported type interface {}"},
		{errOf[fn](), "codec: codec.fn.F: unsupported type func()"},
		{errOf[complex128](), "codec: complex128: unsupported type complex128"},
		{errOf[chan int](), "codec: chan int: unsupported type chan int"},
	}
	for _, c := range cases {
		var te *TypeError
		if !errors.Is(c.err, ErrUnsupportedType) || !errors.As(c.err, &te) || c.err.Error() != c.want {
			t.Errorf("error %v\nwant ErrUnsupportedType %q", c.err, c.want)
		}
	}
}

func errOf[T any]() error {
	_, err := For[T]()
	return err
}

type kv struct {
	Key   string
	Value int64
}

func TestFlatRowsDoNotAllocate(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, _ := For[kv]()
	b := c.NewBuilder(mem)
	defer b.Release()
	for i := range 1000 {
		b.Append(&kv{Key: fmt.Sprint(i), Value: int64(i)})
	}
	rec := b.NewRecord()
	defer rec.Release()
	rd, err := c.NewReader(rec)
	if err != nil {
		t.Fatal(err)
	}
	var v kv
	i := 0
	if n := testing.AllocsPerRun(1000, func() { rd.Read(i%1000, &v); i++ }); n != 0 {
		t.Fatalf("Read allocates %v times per row", n)
	}
}

func BenchmarkAppend(b *testing.B) {
	c, _ := For[kv]()
	bl := c.NewBuilder(memory.NewGoAllocator())
	defer bl.Release()
	v := kv{Key: "superstep", Value: 42}
	b.ReportAllocs()
	for b.Loop() {
		bl.Append(&v)
		if bl.Len() == 1<<16 {
			bl.NewRecord().Release()
		}
	}
}

func BenchmarkRead(b *testing.B) {
	c, _ := For[kv]()
	bl := c.NewBuilder(memory.NewGoAllocator())
	for i := range 1 << 16 {
		bl.Append(&kv{Key: fmt.Sprint(i), Value: int64(i)})
	}
	rec := bl.NewRecord()
	defer rec.Release()
	bl.Release()
	rd, _ := c.NewReader(rec)
	var v kv
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rd.Read(i&(1<<16-1), &v)
	}
}

func BenchmarkReadRich(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	c, _ := For[rich]()
	bl := c.NewBuilder(memory.NewGoAllocator())
	for range 1 << 12 {
		v := randRich(r)
		bl.Append(&v)
	}
	rec := bl.NewRecord()
	defer rec.Release()
	bl.Release()
	rd, _ := c.NewReader(rec)
	var v rich
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rd.Read(i&(1<<12-1), &v)
	}
}
