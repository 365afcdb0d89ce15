package codec

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

type tsvRow struct {
	Name   string
	N      int64
	U8     uint8
	F      float64
	F32    float32
	OK     bool
	At     time.Time
	Raw    []byte
	Tags   []string
	Points []inner
	In     inner
	PIn    *inner `bsp:"p"`
	Maybe  *int
	Skip   func() `bsp:"-"`
}

func TestTSV(t *testing.T) {
	f, err := NewTSVFormatter[tsvRow]()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Header(), ","); got != "Name,N,U8,F,F32,OK,At,Raw,Tags,Points,In.A,In.B,p.A,p.B,Maybe" {
		t.Fatalf("header %s", got)
	}
	one := 1
	rows := []tsvRow{{
		Name: "a\tb\\c\nd\re", N: -7, U8: 255, F: 0.1, F32: 1.5, OK: true,
		At:     time.Date(2026, 11, 24, 2, 2, 3, 4, time.FixedZone("CET", 3600)),
		Raw:    []byte("r\taw"),
		Tags:   []string{"x", "q\"uo\te\\", "é\x01"},
		Points: []inner{{A: 1, B: "p"}},
		In:     inner{A: 5, B: "z"},
		PIn:    &inner{A: -1, B: ""},
		Maybe:  &one,
	}, {
		F: math.NaN(), F32: float32(math.Inf(-1)), Tags: []string{}, Points: nil,
	}}
	want := []string{
		"a\\tb\\\\c\\nd\\re\t-7\t255\t0.1\t1.5\ttrue\t2026-11-24T01:02:03.000000004Z\tr\\taw\t" +
			`["x","q\\"uo\\te\\\\","é\\u0001"]` + "\t" + `[{"A":1,"B":"p"}]` + "\t5\tz\t-1\t\t1",
		"\t0\t0\tNaN\t-Inf\tfalse\t0001-01-01T00:00:00Z\t\t[]\tnull\t0\t\t\t\t",
	}
	for i, v := range rows {
		if got := string(f.Append(nil, &v)); got != want[i] {
			t.Errorf("row %d:\ngot  %q\nwant %q", i, got, want[i])
		}
		if got := len(strings.Split(want[i], "\t")); got != len(f.Header()) {
			t.Errorf("row %d has %d fields, header %d", i, got, len(f.Header()))
		}
	}

	// Append appends.
	if got := string(f.Append([]byte("x\n"), &rows[1])); got != "x\n"+want[1] {
		t.Errorf("append to non-empty: %q", got)
	}

	// A top-level non-struct is one "value" column; a pointer to a struct
	// is flattened.
	fs, err := NewTSVFormatter[[]float64]()
	if err != nil {
		t.Fatal(err)
	}
	fl := []float64{1, math.Inf(1), 2.5e-10}
	if got := string(fs.Append(nil, &fl)); strings.Join(fs.Header(), ",") != "value" || got != `[1,"+Inf",2.5e-10]` {
		t.Errorf("top-level slice: %v %q", fs.Header(), got)
	}
	fp, err := NewTSVFormatter[*inner]()
	if err != nil {
		t.Fatal(err)
	}
	var nilIn *inner
	in := &inner{A: 2, B: "b"}
	if strings.Join(fp.Header(), ",") != "A,B" || string(fp.Append(nil, &in)) != "2\tb" || string(fp.Append(nil, &nilIn)) != "\t" {
		t.Errorf("top-level pointer: %v", fp.Header())
	}

	// JSON of nested values, bytes and times.
	type deep struct {
		L [][]byte
		T []time.Time
		P []*int32
		S []leaf
	}
	fd, err := NewTSVFormatter[deep]()
	if err != nil {
		t.Fatal(err)
	}
	seven := int32(7)
	d := deep{L: [][]byte{[]byte("hi"), nil}, T: []time.Time{time.Unix(0, 0)}, P: []*int32{nil, &seven},
		S: []leaf{{Words: []string{"a"}}}}
	wantDeep := `["aGk=",null]` + "\t" + `["1970-01-01T00:00:00Z"]` + "\t" + `[null,7]` + "\t" + `[{"Words":["a"],"When":null}]`
	if got := string(fd.Append(nil, &d)); got != wantDeep {
		t.Errorf("deep:\ngot  %s\nwant %s", got, wantDeep)
	}
}

func TestTSVInvalidUTF8InJSON(t *testing.T) {
	f, _ := NewTSVFormatter[[]string]()
	v := []string{"a\xffb"}
	if got := string(f.Append(nil, &v)); got != `["a\\ufffdb"]` {
		t.Fatalf("got %q", got)
	}
}

func TestTSVUnsupported(t *testing.T) {
	type bad struct {
		In struct{ M map[string]int }
	}
	type rec struct{ Next *rec }
	for _, c := range []struct {
		err  error
		want string
	}{
		{tsvErr[bad](), "codec: codec.bad.In.M: unsupported type map[string]int"},
		{tsvErr[rec](), "codec: codec.rec.Next: unsupported recursive type codec.rec"},
		{tsvErr[[]chan int](), "codec: []chan int[]: unsupported type chan int"},
	} {
		if !errors.Is(c.err, ErrUnsupportedType) || c.err.Error() != c.want {
			t.Errorf("error %v, want %q", c.err, c.want)
		}
	}
}

func tsvErr[T any]() error {
	_, err := NewTSVFormatter[T]()
	return err
}

func TestTSVFlatRowDoesNotAllocate(t *testing.T) {
	type flat struct {
		Key string
		N   int64
		F   float64
		At  time.Time
		OK  bool
		P   *int
	}
	f, err := NewTSVFormatter[flat]()
	if err != nil {
		t.Fatal(err)
	}
	x := 3
	v := flat{Key: "w\tx", N: 3, F: 0.25, At: time.Unix(1, 2), OK: true, P: &x}
	buf := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() { buf = f.Append(buf[:0], &v) }); n != 0 {
		t.Fatalf("TSV of a flat struct allocates %v times per row", n)
	}
}

func BenchmarkTSVAppend(b *testing.B) {
	f, _ := NewTSVFormatter[kv]()
	v := kv{Key: "superstep", Value: 42}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.Append(buf[:0], &v)
	}
}
