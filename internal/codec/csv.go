package codec

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// parseFn parses s into the value at p.
type parseFn func(s string, p unsafe.Pointer) error

// CSVParser parses CSV records (as split by encoding/csv) into values of
// T, a struct, mapping columns to its top-level fields by name. It is
// immutable and safe for concurrent use.
type CSVParser[T any] struct {
	header []string
	cols   []csvColumn // one per header column
}

type csvColumn struct {
	off   uintptr
	typ   string // the Go type parsed, for errors
	parse parseFn
}

// errTimeSyntax is the cause of a time field in none of the accepted
// layouts.
var errTimeSyntax = errors.New("not an RFC 3339 time or a 2006-01-02 date")

// NewCSVParser maps each header name to the top-level field of T whose
// column name (`bsp` tag or Go name) matches it case-insensitively, after
// trimming spaces. A header name that matches no field, or a field that
// two header names match, is an error matching ErrUnknownColumn. Fields
// without a column keep their zero value. Mapped fields may be bools,
// integers, floats, strings, []byte, time.Time or pointers to these; any
// other type (slices, structs, ...) is an error matching
// ErrUnsupportedType. The parser keeps a copy of header.
func NewCSVParser[T any](header []string) (*CSVParser[T], error) {
	t := reflect.TypeFor[T]()
	if !isStruct(t) {
		return nil, &TypeError{Path: t.String(), Type: t, Reason: fmt.Sprintf("unsupported type %s (CSV rows must be structs)", t)}
	}
	byName := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, skip := fieldName(sf)
		if skip || !sf.IsExported() {
			continue
		}
		byName[strings.ToLower(name)] = sf
	}
	p := &CSVParser[T]{header: append([]string(nil), header...), cols: make([]csvColumn, len(header))}
	used := map[string]string{}
	for i, h := range header {
		key := strings.ToLower(strings.TrimSpace(h))
		sf, ok := byName[key]
		if !ok {
			return nil, fmt.Errorf("%w: column %q matches no field of %s", ErrUnknownColumn, h, t)
		}
		if prev, dup := used[key]; dup {
			return nil, fmt.Errorf("%w: columns %q and %q both match field %s.%s", ErrUnknownColumn, prev, h, t, sf.Name)
		}
		used[key] = h
		fn, err := parser(sf.Type, t.String()+"."+sf.Name)
		if err != nil {
			return nil, err
		}
		typ := sf.Type
		if typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		p.cols[i] = csvColumn{off: sf.Offset, typ: typ.String(), parse: fn}
	}
	return p, nil
}

// Parse sets *v from one record: it zeroes *v, then parses field i into
// the field mapped to header column i. A record whose length differs from
// the header's is an error matching ErrFieldCount; a field that does not
// parse gives a *FieldError (and *v is partly set). Strings are retained
// as they are, not copied; the record slice itself is not retained.
func (c *CSVParser[T]) Parse(rec []string, v *T) error {
	if len(rec) != len(c.cols) {
		return fmt.Errorf("%w: %d fields, the header has %d", ErrFieldCount, len(rec), len(c.cols))
	}
	var zero T
	*v = zero
	base := unsafe.Pointer(v)
	for i, s := range rec {
		col := &c.cols[i]
		if err := col.parse(s, unsafe.Add(base, col.off)); err != nil {
			return &FieldError{Column: c.header[i], Value: s, Type: col.typ, Err: err}
		}
	}
	return nil
}

// numError returns the cause of a strconv error (ErrSyntax, ErrRange):
// the FieldError already names the value and the type.
func numError(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}

func parser(t reflect.Type, path string) (parseFn, error) {
	switch t.Kind() {
	case reflect.Bool:
		return func(s string, p unsafe.Pointer) error {
			v, err := strconv.ParseBool(strings.TrimSpace(s))
			if err != nil {
				return numError(err)
			}
			*(*bool)(p) = v
			return nil
		}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		size := t.Size()
		return func(s string, p unsafe.Pointer) error {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, int(size*8))
			if err != nil {
				return numError(err)
			}
			storeInt(p, size, v)
			return nil
		}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		size := t.Size()
		return func(s string, p unsafe.Pointer) error {
			v, err := strconv.ParseUint(strings.TrimSpace(s), 10, int(size*8))
			if err != nil {
				return numError(err)
			}
			storeUint(p, size, v)
			return nil
		}, nil
	case reflect.Float32:
		return func(s string, p unsafe.Pointer) error {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
			if err != nil {
				return numError(err)
			}
			*(*float32)(p) = float32(v)
			return nil
		}, nil
	case reflect.Float64:
		return func(s string, p unsafe.Pointer) error {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return numError(err)
			}
			*(*float64)(p) = v
			return nil
		}, nil
	case reflect.String:
		return func(s string, p unsafe.Pointer) error {
			if !utf8.ValidString(s) {
				return ErrInvalidUTF8
			}
			*(*string)(p) = s
			return nil
		}, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return func(s string, p unsafe.Pointer) error {
				*(*[]byte)(p) = []byte(s)
				return nil
			}, nil
		}
	case reflect.Struct:
		if t == timeType {
			return parseTime, nil
		}
	case reflect.Pointer:
		if t.Elem().Kind() == reflect.Pointer {
			break
		}
		inner, err := parser(t.Elem(), path)
		if err != nil {
			return nil, err
		}
		alloc := rawArrayMaker(t.Elem())
		return func(s string, p unsafe.Pointer) error {
			if strings.TrimSpace(s) == "" {
				*(*unsafe.Pointer)(p) = nil
				return nil
			}
			v := alloc(1)
			if err := inner(s, v); err != nil {
				return err
			}
			*(*unsafe.Pointer)(p) = v
			return nil
		}, nil
	}
	return nil, &TypeError{Path: path, Type: t, Reason: fmt.Sprintf("unsupported type %s in a CSV column", t)}
}

// parseTime accepts RFC 3339 with or without fractional seconds, a date
// (2006-01-02) or a date and time (2006-01-02 15:04:05, UTC), and stores
// the time in UTC.
func parseTime(s string, p unsafe.Pointer) error {
	s = strings.TrimSpace(s)
	var layout string
	switch {
	case len(s) == len(time.DateOnly):
		layout = time.DateOnly
	case len(s) == len(time.DateTime) && s[10] == ' ':
		layout = time.DateTime
	default:
		layout = time.RFC3339Nano // also accepts RFC 3339 without fractions
	}
	v, err := time.Parse(layout, s)
	if err != nil {
		return errTimeSyntax
	}
	*(*time.Time)(p) = v.UTC()
	return nil
}
