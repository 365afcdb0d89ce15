// Package codec converts between Go values and Arrow columns, builds
// order-preserving key bytes, and formats and parses text rows.
//
// Each of these is compiled once per Go type, with reflection, into
// closures over field offsets; the per-row path then works on
// unsafe.Pointer and does no reflection and (for flat rows) no allocation.
//
// Supported value types: bool; int, int8…int64; uint, uint8…uint64;
// float32, float64; string; []byte (Arrow binary); time.Time (Arrow
// timestamp[ns, UTC]); slices of supported types (Arrow list); structs
// (Arrow struct); pointers to supported types (nullable: nil <-> null).
// A struct's exported fields become columns named by their `bsp:"name"`
// tag or Go name; `bsp:"-"` skips a field. Anything else (maps, channels,
// funcs, interfaces, complex numbers, arrays, unexported fields, recursive
// types) is an error matching ErrUnsupportedType when the codec is built.
//
// Lossy corners, by design: the zero time.Time is stored as null (and read
// back as the zero Time); other times outside 1678..2262 are clamped to the
// timestamp[ns] range; times are read back in UTC. Nil slices and []byte are
// stored as null and read back nil, empty ones as empty. A non-nil pointer
// to a value stored as null (a nil slice, the zero Time) reads back as a
// nil pointer; pointers to pointers are refused.
package codec

import (
	"fmt"
	"math"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// appendFn appends the value at p to a bound builder and returns roughly
// how many bytes it added.
type appendFn func(p unsafe.Pointer) int

// readFn stores row i of a bound array into the value at p, overwriting it.
type readFn func(i int, p unsafe.Pointer)

// valueCodec is the compiled form of one Go type.
type valueCodec struct {
	dt       arrow.DataType
	nullable bool
	// bind returns the append function of a builder of type dt.
	bind func(b array.Builder) appendFn
	// read returns the read function of an array whose type is compatible
	// with dt. It copies what the returned function will need, so that the
	// values it stores never alias the array's memory.
	read func(arr arrow.Array) (readFn, error)
}

// field is one column of a struct.
type field struct {
	name   string
	offset uintptr
	vc     *valueCodec
}

// Codec converts values of T to and from Arrow record batches. It is
// immutable and safe for concurrent use; Builders and Readers are not.
type Codec[T any] struct {
	schema *arrow.Schema
	fields []field
}

var codecs sync.Map // reflect.Type -> *Codec[T]

// For returns the codec of T, building it on first use and caching it per
// type. A struct T has one column per exported field; any other T has a
// single column named "value". Unsupported types give an error matching
// ErrUnsupportedType that names the field path.
func For[T any]() (*Codec[T], error) {
	t := reflect.TypeFor[T]()
	if c, ok := codecs.Load(t); ok {
		return c.(*Codec[T]), nil
	}
	var fields []field
	if isStruct(t) {
		var err error
		if fields, err = structFields(t, t.String(), map[reflect.Type]bool{t: true}); err != nil {
			return nil, err
		}
	} else {
		vc, err := compile(t, t.String(), map[reflect.Type]bool{})
		if err != nil {
			return nil, err
		}
		fields = []field{{name: "value", vc: vc}}
	}
	c := &Codec[T]{schema: arrow.NewSchema(arrowFields(fields), nil), fields: fields}
	actual, _ := codecs.LoadOrStore(t, c)
	return actual.(*Codec[T]), nil
}

// Schema returns the Arrow schema of T. It is shared: do not modify it.
func (c *Codec[T]) Schema() *arrow.Schema { return c.schema }

func arrowFields(fields []field) []arrow.Field {
	af := make([]arrow.Field, len(fields))
	for i, f := range fields {
		af[i] = arrow.Field{Name: f.name, Type: f.vc.dt, Nullable: f.vc.nullable}
	}
	return af
}

// structFields compiles the exported fields of struct t, found at path.
// seen holds the struct types being compiled, to refuse recursive types.
func structFields(t reflect.Type, path string, seen map[reflect.Type]bool) ([]field, error) {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, skip := fieldName(sf)
		if skip {
			continue
		}
		fpath := path + "." + sf.Name
		if !sf.IsExported() {
			return nil, unexported(fpath, sf.Type)
		}
		vc, err := compile(sf.Type, fpath, seen)
		if err != nil {
			return nil, err
		}
		out = append(out, field{name: name, offset: sf.Offset, vc: vc})
	}
	return out, nil
}

// compile builds the codec of type t found at path (for error messages).
func compile(t reflect.Type, path string, seen map[reflect.Type]bool) (*valueCodec, error) {
	switch t.Kind() {
	case reflect.Bool:
		return prim(arrow.FixedWidthTypes.Boolean, 1,
			func(b *array.BooleanBuilder, p unsafe.Pointer) { b.Append(*(*bool)(p)) },
			func(a *array.Boolean, i int, p unsafe.Pointer) { *(*bool)(p) = a.Value(i) }), nil
	case reflect.Int8:
		return prim(arrow.PrimitiveTypes.Int8, 1,
			func(b *array.Int8Builder, p unsafe.Pointer) { b.Append(*(*int8)(p)) },
			func(a *array.Int8, i int, p unsafe.Pointer) { *(*int8)(p) = a.Value(i) }), nil
	case reflect.Int16:
		return prim(arrow.PrimitiveTypes.Int16, 2,
			func(b *array.Int16Builder, p unsafe.Pointer) { b.Append(*(*int16)(p)) },
			func(a *array.Int16, i int, p unsafe.Pointer) { *(*int16)(p) = a.Value(i) }), nil
	case reflect.Int32:
		return prim(arrow.PrimitiveTypes.Int32, 4,
			func(b *array.Int32Builder, p unsafe.Pointer) { b.Append(*(*int32)(p)) },
			func(a *array.Int32, i int, p unsafe.Pointer) { *(*int32)(p) = a.Value(i) }), nil
	case reflect.Int64:
		return prim(arrow.PrimitiveTypes.Int64, 8,
			func(b *array.Int64Builder, p unsafe.Pointer) { b.Append(*(*int64)(p)) },
			func(a *array.Int64, i int, p unsafe.Pointer) { *(*int64)(p) = a.Value(i) }), nil
	case reflect.Int:
		return prim(arrow.PrimitiveTypes.Int64, 8,
			func(b *array.Int64Builder, p unsafe.Pointer) { b.Append(int64(*(*int)(p))) },
			func(a *array.Int64, i int, p unsafe.Pointer) { *(*int)(p) = int(a.Value(i)) }), nil
	case reflect.Uint8:
		return prim(arrow.PrimitiveTypes.Uint8, 1,
			func(b *array.Uint8Builder, p unsafe.Pointer) { b.Append(*(*uint8)(p)) },
			func(a *array.Uint8, i int, p unsafe.Pointer) { *(*uint8)(p) = a.Value(i) }), nil
	case reflect.Uint16:
		return prim(arrow.PrimitiveTypes.Uint16, 2,
			func(b *array.Uint16Builder, p unsafe.Pointer) { b.Append(*(*uint16)(p)) },
			func(a *array.Uint16, i int, p unsafe.Pointer) { *(*uint16)(p) = a.Value(i) }), nil
	case reflect.Uint32:
		return prim(arrow.PrimitiveTypes.Uint32, 4,
			func(b *array.Uint32Builder, p unsafe.Pointer) { b.Append(*(*uint32)(p)) },
			func(a *array.Uint32, i int, p unsafe.Pointer) { *(*uint32)(p) = a.Value(i) }), nil
	case reflect.Uint64:
		return prim(arrow.PrimitiveTypes.Uint64, 8,
			func(b *array.Uint64Builder, p unsafe.Pointer) { b.Append(*(*uint64)(p)) },
			func(a *array.Uint64, i int, p unsafe.Pointer) { *(*uint64)(p) = a.Value(i) }), nil
	case reflect.Uint:
		return prim(arrow.PrimitiveTypes.Uint64, 8,
			func(b *array.Uint64Builder, p unsafe.Pointer) { b.Append(uint64(*(*uint)(p))) },
			func(a *array.Uint64, i int, p unsafe.Pointer) { *(*uint)(p) = uint(a.Value(i)) }), nil
	case reflect.Float32:
		return prim(arrow.PrimitiveTypes.Float32, 4,
			func(b *array.Float32Builder, p unsafe.Pointer) { b.Append(*(*float32)(p)) },
			func(a *array.Float32, i int, p unsafe.Pointer) { *(*float32)(p) = a.Value(i) }), nil
	case reflect.Float64:
		return prim(arrow.PrimitiveTypes.Float64, 8,
			func(b *array.Float64Builder, p unsafe.Pointer) { b.Append(*(*float64)(p)) },
			func(a *array.Float64, i int, p unsafe.Pointer) { *(*float64)(p) = a.Value(i) }), nil
	case reflect.String:
		return stringCodec(), nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return bytesCodec(), nil
		}
		return listCodec(t, path, seen)
	case reflect.Pointer:
		return pointerCodec(t, path, seen)
	case reflect.Struct:
		if t == timeType {
			return timeCodec(), nil
		}
		return structCodec(t, path, seen)
	}
	return nil, unsupported(path, t)
}

// prim builds the codec of a fixed-width type from typed append and read
// functions; the type assertions happen once per builder or array.
func prim[B array.Builder, A arrow.Array](dt arrow.DataType, width int, app func(B, unsafe.Pointer), rd func(A, int, unsafe.Pointer)) *valueCodec {
	return &valueCodec{dt: dt,
		bind: func(b array.Builder) appendFn {
			bb := b.(B)
			return func(p unsafe.Pointer) int { app(bb, p); return width }
		},
		read: func(arr arrow.Array) (readFn, error) {
			a, ok := arr.(A)
			if !ok {
				return nil, mismatch(arr, dt)
			}
			return func(i int, p unsafe.Pointer) { rd(a, i, p) }, nil
		},
	}
}

func mismatch(arr arrow.Array, want arrow.DataType) error {
	return fmt.Errorf("%w: array of %s, want %s", ErrSchemaMismatch, arr.DataType(), want)
}

// varArray is a string or binary array.
type varArray interface {
	arrow.Array
	ValueOffsets() []int32
	ValueBytes() []byte
}

// varColumn returns the offsets of a string or binary array rebased to the
// start of its value bytes, and a copy of those bytes made by cp.
func varColumn[S any](arr arrow.Array, want arrow.DataType, cp func([]byte) S) ([]int32, S, error) {
	var zero S
	va, ok := arr.(varArray)
	if !ok {
		return nil, zero, mismatch(arr, want)
	}
	offs := va.ValueOffsets()
	if len(offs) > 0 && offs[0] != 0 {
		base := offs[0]
		rebased := make([]int32, len(offs))
		for i, o := range offs {
			rebased[i] = o - base
		}
		offs = rebased
	}
	return offs, cp(va.ValueBytes()), nil
}

func stringCodec() *valueCodec {
	dt := arrow.BinaryTypes.String
	return &valueCodec{dt: dt,
		bind: func(b array.Builder) appendFn {
			sb := b.(*array.StringBuilder)
			return func(p unsafe.Pointer) int {
				s := *(*string)(p)
				sb.Append(s)
				return len(s) + 4
			}
		},
		read: func(arr arrow.Array) (readFn, error) {
			// One copy of the column's bytes per reader; rows are substrings.
			offs, data, err := varColumn(arr, dt, func(b []byte) string { return string(b) })
			if err != nil {
				return nil, err
			}
			return func(i int, p unsafe.Pointer) {
				*(*string)(p) = data[offs[i]:offs[i+1]]
			}, nil
		},
	}
}

func bytesCodec() *valueCodec {
	dt := arrow.BinaryTypes.Binary
	return &valueCodec{dt: dt, nullable: true,
		bind: func(b array.Builder) appendFn {
			bb := b.(*array.BinaryBuilder)
			return func(p unsafe.Pointer) int {
				v := *(*[]byte)(p)
				if v == nil {
					bb.AppendNull()
					return 4
				}
				bb.Append(v)
				return len(v) + 4
			}
		},
		read: func(arr arrow.Array) (readFn, error) {
			// make, not append: an empty column must still give non-nil
			// empty slices.
			offs, data, err := varColumn(arr, dt, func(b []byte) []byte { return append(make([]byte, 0, len(b)), b...) })
			if err != nil {
				return nil, err
			}
			return func(i int, p unsafe.Pointer) {
				if arr.IsNull(i) {
					*(*[]byte)(p) = nil
					return
				}
				a, b := offs[i], offs[i+1]
				*(*[]byte)(p) = data[a:b:b]
			}, nil
		},
	}
}

// Range of time.Time values a timestamp[ns] holds; times outside it are
// clamped to its ends.
const (
	minTimeSec = math.MinInt64/1_000_000_000 + 1
	maxTimeSec = math.MaxInt64/1_000_000_000 - 1
)

// timeNanos returns t as nanoseconds since the Unix epoch, clamped to the
// int64 range (years 1678 to 2262).
func timeNanos(t *time.Time) int64 {
	switch s := t.Unix(); {
	case s < minTimeSec:
		return math.MinInt64
	case s > maxTimeSec:
		return math.MaxInt64
	}
	return t.UnixNano()
}

// timeCodec stores a time.Time as nanoseconds since the epoch, UTC; the
// zero Time is stored as null so that it survives the round trip.
func timeCodec() *valueCodec {
	dt := arrow.FixedWidthTypes.Timestamp_ns
	return &valueCodec{dt: dt, nullable: true,
		bind: func(b array.Builder) appendFn {
			tb := b.(*array.TimestampBuilder)
			return func(p unsafe.Pointer) int {
				t := (*time.Time)(p)
				if t.IsZero() {
					tb.AppendNull()
				} else {
					tb.Append(arrow.Timestamp(timeNanos(t)))
				}
				return 8
			}
		},
		read: func(arr arrow.Array) (readFn, error) {
			a, ok := arr.(*array.Timestamp)
			if !ok {
				return nil, mismatch(arr, dt)
			}
			unit := a.DataType().(*arrow.TimestampType).Unit
			return func(i int, p unsafe.Pointer) {
				if a.IsNull(i) {
					*(*time.Time)(p) = time.Time{}
					return
				}
				*(*time.Time)(p) = a.Value(i).ToTime(unit).UTC()
			}, nil
		},
	}
}

func listCodec(t reflect.Type, path string, seen map[reflect.Type]bool) (*valueCodec, error) {
	elem := t.Elem()
	ec, err := compile(elem, path+"[]", seen)
	if err != nil {
		return nil, err
	}
	size := elem.Size()
	alloc := arrayMaker(elem)
	dt := arrow.ListOf(ec.dt)
	return &valueCodec{dt: dt, nullable: true,
		bind: func(b array.Builder) appendFn {
			lb := b.(*array.ListBuilder)
			app := ec.bind(lb.ValueBuilder())
			return func(p unsafe.Pointer) int {
				h := (*sliceHeader)(p)
				if h.data == nil {
					lb.AppendNull()
					return 4
				}
				lb.Append(true)
				n := 4
				for i := 0; i < h.len; i++ {
					n += app(unsafe.Add(h.data, uintptr(i)*size))
				}
				return n
			}
		},
		read: func(arr arrow.Array) (readFn, error) {
			la, ok := arr.(*array.List)
			if !ok {
				return nil, mismatch(arr, dt)
			}
			rd, err := ec.read(la.ListValues())
			if err != nil {
				return nil, err
			}
			return func(i int, p unsafe.Pointer) {
				if la.IsNull(i) {
					*(*sliceHeader)(p) = sliceHeader{}
					return
				}
				start, end := la.ValueOffsets(i)
				n := int(end - start)
				data := alloc(n)
				for j := 0; j < n; j++ {
					rd(int(start)+j, unsafe.Add(data, uintptr(j)*size))
				}
				*(*sliceHeader)(p) = sliceHeader{data: data, len: n, cap: n}
			}, nil
		},
	}, nil
}

// pointerCodec stores *E as E's column, nil as null. E must not itself be
// a pointer. A non-nil pointer to a value E stores as null (a nil slice,
// the zero time.Time) reads back as a nil pointer.
func pointerCodec(t reflect.Type, path string, seen map[reflect.Type]bool) (*valueCodec, error) {
	elem := t.Elem()
	if elem.Kind() == reflect.Pointer {
		return nil, &TypeError{Path: path, Type: t, Reason: fmt.Sprintf("unsupported type %s (pointer to pointer)", t)}
	}
	if seen[elem] {
		return nil, &TypeError{Path: path, Type: t, Reason: fmt.Sprintf("unsupported recursive type %s", elem)}
	}
	ec, err := compile(elem, path, seen)
	if err != nil {
		return nil, err
	}
	alloc := rawArrayMaker(elem)
	return &valueCodec{dt: ec.dt, nullable: true,
		bind: func(b array.Builder) appendFn {
			app := ec.bind(b)
			return func(p unsafe.Pointer) int {
				ptr := *(*unsafe.Pointer)(p)
				if ptr == nil {
					b.AppendNull()
					return 1
				}
				return app(ptr)
			}
		},
		read: func(arr arrow.Array) (readFn, error) {
			rd, err := ec.read(arr)
			if err != nil {
				return nil, err
			}
			return func(i int, p unsafe.Pointer) {
				if arr.IsNull(i) {
					*(*unsafe.Pointer)(p) = nil
					return
				}
				v := alloc(1)
				rd(i, v)
				*(*unsafe.Pointer)(p) = v
			}, nil
		},
	}, nil
}

func structCodec(t reflect.Type, path string, seen map[reflect.Type]bool) (*valueCodec, error) {
	if seen[t] {
		return nil, &TypeError{Path: path, Type: t, Reason: fmt.Sprintf("unsupported recursive type %s", t)}
	}
	seen[t] = true
	defer delete(seen, t)
	fields, err := structFields(t, path, seen)
	if err != nil {
		return nil, err
	}
	dt := arrow.StructOf(arrowFields(fields)...)
	return &valueCodec{dt: dt,
		bind: func(b array.Builder) appendFn {
			sb := b.(*array.StructBuilder)
			apps := make([]appendFn, len(fields))
			for i, f := range fields {
				apps[i] = f.vc.bind(sb.FieldBuilder(i))
			}
			return func(p unsafe.Pointer) int {
				sb.Append(true)
				n := 0
				for i := range fields {
					n += apps[i](unsafe.Add(p, fields[i].offset))
				}
				return n
			}
		},
		read: func(arr arrow.Array) (readFn, error) {
			sa, ok := arr.(*array.Struct)
			if !ok || sa.NumField() != len(fields) {
				return nil, mismatch(arr, dt)
			}
			rds := make([]readFn, len(fields))
			for i, f := range fields {
				var err error
				if rds[i], err = f.vc.read(sa.Field(i)); err != nil {
					return nil, err
				}
			}
			return func(i int, p unsafe.Pointer) {
				for j := range fields {
					rds[j](i, unsafe.Add(p, fields[j].offset))
				}
			}, nil
		},
	}, nil
}

// compatible reports whether arrays of type a can be read by a codec of
// type b: same type IDs, struct field names and shapes, recursively;
// nullability, list element names and timestamp units may differ.
func compatible(a, b arrow.DataType) bool {
	if a.ID() != b.ID() {
		return false
	}
	switch at := a.(type) {
	case *arrow.ListType:
		return compatible(at.Elem(), b.(*arrow.ListType).Elem())
	case *arrow.StructType:
		bt := b.(*arrow.StructType)
		if at.NumFields() != bt.NumFields() {
			return false
		}
		for i := 0; i < at.NumFields(); i++ {
			if at.Field(i).Name != bt.Field(i).Name || !compatible(at.Field(i).Type, bt.Field(i).Type) {
				return false
			}
		}
	}
	return true
}
