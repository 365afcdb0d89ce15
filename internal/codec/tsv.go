package codec

import (
	"fmt"
	"reflect"
	"strconv"
	"time"
	"unsafe"
)

// TSVFormatter formats values of T as tab-separated lines. It is immutable
// and safe for concurrent use.
//
// Columns: a struct T gives one column per exported field, nested structs
// (and pointers to structs) flattened into consecutive "Outer.Inner"
// columns; any other T gives one column named "value". Field text:
//   - string and []byte: raw, except that '\\', '\t', '\n' and '\r' are
//     escaped as \\ \t \n \r;
//   - integers in decimal; floats strconv 'g' with the shortest
//     round-trip precision (NaN, +Inf, -Inf); bools true and false;
//   - time.Time RFC 3339 with nanoseconds, in UTC;
//   - slices as a JSON array (see below), then escaped as strings are;
//   - a nil pointer (and every column under a nil pointer to a struct) as
//     an empty field.
//
// JSON follows encoding/json's conventions (nil is null, []byte is base64,
// structs are objects keyed by column name) but writes times in UTC and
// non-finite floats as the strings "NaN", "+Inf", "-Inf".
type TSVFormatter[T any] struct {
	header []string
	cols   []tsvColumn
}

type tsvColumn struct {
	off uintptr
	fn  formatFn
}

// locate maps a formatter of a value at offset off inside the current
// struct to a column of the row: its offset from the row and formatter.
type locate func(off uintptr, fn formatFn) tsvColumn

// NewTSVFormatter compiles the formatter of T. Unsupported types give an
// error matching ErrUnsupportedType naming the field path.
func NewTSVFormatter[T any]() (*TSVFormatter[T], error) {
	t := reflect.TypeFor[T]()
	f := &TSVFormatter[T]{}
	top := func(off uintptr, fn formatFn) tsvColumn { return tsvColumn{off: off, fn: fn} }
	switch {
	case isStruct(t):
		if err := f.addStruct(t, t.String(), "", top, map[reflect.Type]bool{}); err != nil {
			return nil, err
		}
	case t.Kind() == reflect.Pointer && isStruct(t.Elem()):
		if err := f.addStruct(t.Elem(), t.String(), "", deref(top, 0), map[reflect.Type]bool{}); err != nil {
			return nil, err
		}
	default:
		fn, err := scalarFormatter(t, t.String())
		if err != nil {
			return nil, err
		}
		f.header, f.cols = []string{"value"}, []tsvColumn{{fn: fn}}
	}
	return f, nil
}

// deref returns the locate function of the fields of a struct that the
// pointer at offset ptrOff (located by loc) points to; a nil pointer gives
// empty fields.
func deref(loc locate, ptrOff uintptr) locate {
	return func(off uintptr, fn formatFn) tsvColumn {
		return loc(ptrOff, func(dst []byte, p unsafe.Pointer) []byte {
			ptr := *(*unsafe.Pointer)(p)
			if ptr == nil {
				return dst
			}
			return fn(dst, unsafe.Add(ptr, off))
		})
	}
}

func (f *TSVFormatter[T]) addStruct(t reflect.Type, path, prefix string, loc locate, seen map[reflect.Type]bool) error {
	if seen[t] {
		return &TypeError{Path: path, Type: t, Reason: fmt.Sprintf("unsupported recursive type %s", t)}
	}
	seen[t] = true
	defer delete(seen, t)
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, skip := fieldName(sf)
		if skip {
			continue
		}
		fpath := path + "." + sf.Name
		if !sf.IsExported() {
			return unexported(fpath, sf.Type)
		}
		var err error
		switch ft := sf.Type; {
		case isStruct(ft):
			base := sf.Offset
			err = f.addStruct(ft, fpath, prefix+name+".", func(off uintptr, fn formatFn) tsvColumn {
				return loc(base+off, fn)
			}, seen)
		case ft.Kind() == reflect.Pointer && isStruct(ft.Elem()):
			err = f.addStruct(ft.Elem(), fpath, prefix+name+".", deref(loc, sf.Offset), seen)
		default:
			var fn formatFn
			if fn, err = scalarFormatter(ft, fpath); err == nil {
				f.header = append(f.header, prefix+name)
				f.cols = append(f.cols, loc(sf.Offset, fn))
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Header returns the column names, one per field of a line. The slice is
// shared: do not modify it.
func (f *TSVFormatter[T]) Header() []string { return f.header }

// Append appends *v as one line, without a trailing newline, to dst and
// returns the extended slice. It does not retain v; for rows without
// slices and pointers it does not allocate beyond growing dst.
func (f *TSVFormatter[T]) Append(dst []byte, v *T) []byte {
	p := unsafe.Pointer(v)
	for i := range f.cols {
		if i > 0 {
			dst = append(dst, '\t')
		}
		c := &f.cols[i]
		dst = c.fn(dst, unsafe.Add(p, c.off))
	}
	return dst
}

// appendTSVString appends s with '\\', '\t', '\n', '\r' escaped.
func appendTSVString(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '\\':
			esc = '\\'
		case '\t':
			esc = 't'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		default:
			continue
		}
		dst = append(append(dst, s[start:i]...), '\\', esc)
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// scalarFormatter compiles the TSV text of one field of type t (not a
// struct other than time.Time).
func scalarFormatter(t reflect.Type, path string) (formatFn, error) {
	switch t.Kind() {
	case reflect.Bool:
		return func(dst []byte, p unsafe.Pointer) []byte { return strconv.AppendBool(dst, *(*bool)(p)) }, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		size := t.Size()
		return func(dst []byte, p unsafe.Pointer) []byte { return strconv.AppendInt(dst, loadInt(p, size), 10) }, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		size := t.Size()
		return func(dst []byte, p unsafe.Pointer) []byte { return strconv.AppendUint(dst, loadUint(p, size), 10) }, nil
	case reflect.Float32:
		return func(dst []byte, p unsafe.Pointer) []byte {
			return strconv.AppendFloat(dst, float64(*(*float32)(p)), 'g', -1, 32)
		}, nil
	case reflect.Float64:
		return func(dst []byte, p unsafe.Pointer) []byte {
			return strconv.AppendFloat(dst, *(*float64)(p), 'g', -1, 64)
		}, nil
	case reflect.String:
		return func(dst []byte, p unsafe.Pointer) []byte { return appendTSVString(dst, *(*string)(p)) }, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return func(dst []byte, p unsafe.Pointer) []byte {
				b := *(*[]byte)(p)
				return appendTSVString(dst, unsafe.String(unsafe.SliceData(b), len(b)))
			}, nil
		}
		js, err := jsonFormatter(t, path, map[reflect.Type]bool{})
		if err != nil {
			return nil, err
		}
		return func(dst []byte, p unsafe.Pointer) []byte {
			// JSON holds no tab, newline or carriage return; only its
			// backslashes need escaping, which is done in place.
			start := len(dst)
			dst = js(dst, p)
			return escapeBackslashes(dst, start)
		}, nil
	case reflect.Pointer:
		if t.Elem().Kind() == reflect.Pointer {
			return nil, &TypeError{Path: path, Type: t, Reason: fmt.Sprintf("unsupported type %s (pointer to pointer)", t)}
		}
		inner, err := scalarFormatter(t.Elem(), path)
		if err != nil {
			return nil, err
		}
		return func(dst []byte, p unsafe.Pointer) []byte {
			if ptr := *(*unsafe.Pointer)(p); ptr != nil {
				return inner(dst, ptr)
			}
			return dst
		}, nil
	case reflect.Struct:
		if t == timeType {
			return func(dst []byte, p unsafe.Pointer) []byte {
				return (*time.Time)(p).UTC().AppendFormat(dst, time.RFC3339Nano)
			}, nil
		}
	}
	return nil, unsupported(path, t)
}

// escapeBackslashes doubles every backslash in dst[start:].
func escapeBackslashes(dst []byte, start int) []byte {
	n := 0
	for _, c := range dst[start:] {
		if c == '\\' {
			n++
		}
	}
	if n == 0 {
		return dst
	}
	end := len(dst)
	dst = append(dst, make([]byte, n)...)
	w := len(dst)
	for r := end - 1; r >= start; r-- {
		w--
		dst[w] = dst[r]
		if dst[r] == '\\' {
			w--
			dst[w] = '\\'
		}
	}
	return dst
}
