package codec

import (
	"encoding/base64"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// formatFn appends the text of the value at p to dst.
type formatFn func(dst []byte, p unsafe.Pointer) []byte

// jsonFormatter compiles the JSON encoding of t, used for the slice
// columns of TSV. It follows encoding/json's conventions (nil slices and
// pointers are null, []byte is base64, structs are objects keyed by column
// name, time.Time is an RFC 3339 string) but writes time in UTC and
// non-finite floats as the strings "NaN", "+Inf" and "-Inf".
func jsonFormatter(t reflect.Type, path string, seen map[reflect.Type]bool) (formatFn, error) {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return scalarFormatter(t, path)
	case reflect.Float32, reflect.Float64:
		size := t.Size()
		return func(dst []byte, p unsafe.Pointer) []byte {
			var f float64
			if size == 4 {
				f = float64(*(*float32)(p))
			} else {
				f = *(*float64)(p)
			}
			switch {
			case math.IsNaN(f):
				return append(dst, `"NaN"`...)
			case math.IsInf(f, 1):
				return append(dst, `"+Inf"`...)
			case math.IsInf(f, -1):
				return append(dst, `"-Inf"`...)
			}
			return strconv.AppendFloat(dst, f, 'g', -1, int(size*8))
		}, nil
	case reflect.String:
		return func(dst []byte, p unsafe.Pointer) []byte { return appendJSONString(dst, *(*string)(p)) }, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return func(dst []byte, p unsafe.Pointer) []byte {
				b := *(*[]byte)(p)
				if b == nil {
					return append(dst, "null"...)
				}
				dst = append(dst, '"')
				return append(base64.StdEncoding.AppendEncode(dst, b), '"')
			}, nil
		}
		elem, err := jsonFormatter(t.Elem(), path+"[]", seen)
		if err != nil {
			return nil, err
		}
		size := t.Elem().Size()
		return func(dst []byte, p unsafe.Pointer) []byte {
			h := (*sliceHeader)(p)
			if h.data == nil {
				return append(dst, "null"...)
			}
			dst = append(dst, '[')
			for i := 0; i < h.len; i++ {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = elem(dst, unsafe.Add(h.data, uintptr(i)*size))
			}
			return append(dst, ']')
		}, nil
	case reflect.Pointer:
		if t.Elem().Kind() == reflect.Pointer {
			return nil, &TypeError{Path: path, Type: t, Reason: fmt.Sprintf("unsupported type %s (pointer to pointer)", t)}
		}
		if seen[t.Elem()] {
			return nil, &TypeError{Path: path, Type: t, Reason: fmt.Sprintf("unsupported recursive type %s", t.Elem())}
		}
		elem, err := jsonFormatter(t.Elem(), path, seen)
		if err != nil {
			return nil, err
		}
		return func(dst []byte, p unsafe.Pointer) []byte {
			ptr := *(*unsafe.Pointer)(p)
			if ptr == nil {
				return append(dst, "null"...)
			}
			return elem(dst, ptr)
		}, nil
	case reflect.Struct:
		if t == timeType {
			return func(dst []byte, p unsafe.Pointer) []byte {
				dst = append(dst, '"')
				return append((*time.Time)(p).UTC().AppendFormat(dst, time.RFC3339Nano), '"')
			}, nil
		}
		return jsonObject(t, path, seen)
	}
	return nil, unsupported(path, t)
}

func jsonObject(t reflect.Type, path string, seen map[reflect.Type]bool) (formatFn, error) {
	if seen[t] {
		return nil, &TypeError{Path: path, Type: t, Reason: fmt.Sprintf("unsupported recursive type %s", t)}
	}
	seen[t] = true
	defer delete(seen, t)
	type member struct {
		key []byte // `"name":`, with the separating comma when not first
		off uintptr
		fn  formatFn
	}
	var members []member
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
		fn, err := jsonFormatter(sf.Type, fpath, seen)
		if err != nil {
			return nil, err
		}
		var key []byte
		if len(members) > 0 {
			key = append(key, ',')
		}
		key = append(appendJSONString(key, name), ':')
		members = append(members, member{key: key, off: sf.Offset, fn: fn})
	}
	return func(dst []byte, p unsafe.Pointer) []byte {
		dst = append(dst, '{')
		for i := range members {
			m := &members[i]
			dst = m.fn(append(dst, m.key...), unsafe.Add(p, m.off))
		}
		return append(dst, '}')
	}, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as with encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
