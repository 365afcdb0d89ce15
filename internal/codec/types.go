package codec

import (
	"reflect"
	"time"
	"unsafe"
)

// This file holds the reflection-time helpers shared by the codecs and the
// unsafe memory accessors their per-row closures use.

var timeType = reflect.TypeFor[time.Time]()

// isStruct reports whether t is a struct the package flattens into fields
// (time.Time is a scalar).
func isStruct(t reflect.Type) bool { return t.Kind() == reflect.Struct && t != timeType }

// fieldName returns the column name of a struct field (its `bsp` tag, else
// its Go name) and whether the field is skipped (`bsp:"-"`).
func fieldName(f reflect.StructField) (string, bool) {
	tag := f.Tag.Get("bsp")
	if tag == "-" {
		return "", true
	}
	if tag != "" {
		return tag, false
	}
	return f.Name, false
}

// unexported returns the error for an unexported field that is not skipped.
func unexported(path string, t reflect.Type) error {
	return &TypeError{Path: path, Type: t, Reason: "unexported field (export it or tag it `bsp:\"-\"`)"}
}

// sliceHeader is the memory layout of a Go slice.
type sliceHeader struct {
	data unsafe.Pointer
	len  int
	cap  int
}

// hasPointers reports whether values of t contain pointers the garbage
// collector must see.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	}
	return true
}

// zeroBase is where empty allocations point, so that they are not nil.
var zeroBase uint64

// arrayMaker returns a function allocating a zeroed array of n values of
// type elem, with the pointer layout the garbage collector expects. Common
// element types avoid reflection; others fall back to reflect.MakeSlice
// (still only one allocation).
func arrayMaker(elem reflect.Type) func(n int) unsafe.Pointer {
	alloc := rawArrayMaker(elem)
	return func(n int) unsafe.Pointer {
		if n == 0 {
			return unsafe.Pointer(&zeroBase) // empty, yet not nil
		}
		return alloc(n)
	}
}

func rawArrayMaker(elem reflect.Type) func(n int) unsafe.Pointer {
	size := elem.Size()
	switch {
	case size == 0:
		return func(int) unsafe.Pointer { return unsafe.Pointer(&zeroBase) }
	case !hasPointers(elem):
		// Pointer-free values: any zeroed, 8-aligned, unscanned block will do.
		return func(n int) unsafe.Pointer {
			return unsafe.Pointer(unsafe.SliceData(make([]uint64, (uintptr(n)*size+7)/8)))
		}
	case elem.Kind() == reflect.String:
		return func(n int) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(make([]string, n))) }
	case elem.Kind() == reflect.Slice:
		return func(n int) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(make([]sliceHeader, n))) }
	case elem.Kind() == reflect.Pointer:
		return func(n int) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(make([]unsafe.Pointer, n))) }
	}
	st := reflect.SliceOf(elem)
	return func(n int) unsafe.Pointer { return reflect.MakeSlice(st, n, n).UnsafePointer() }
}

func loadInt(p unsafe.Pointer, size uintptr) int64 {
	switch size {
	case 1:
		return int64(*(*int8)(p))
	case 2:
		return int64(*(*int16)(p))
	case 4:
		return int64(*(*int32)(p))
	}
	return *(*int64)(p)
}

func storeInt(p unsafe.Pointer, size uintptr, v int64) {
	switch size {
	case 1:
		*(*int8)(p) = int8(v)
	case 2:
		*(*int16)(p) = int16(v)
	case 4:
		*(*int32)(p) = int32(v)
	default:
		*(*int64)(p) = v
	}
}

func loadUint(p unsafe.Pointer, size uintptr) uint64 {
	switch size {
	case 1:
		return uint64(*(*uint8)(p))
	case 2:
		return uint64(*(*uint16)(p))
	case 4:
		return uint64(*(*uint32)(p))
	}
	return *(*uint64)(p)
}

func storeUint(p unsafe.Pointer, size uintptr, v uint64) {
	switch size {
	case 1:
		*(*uint8)(p) = uint8(v)
	case 2:
		*(*uint16)(p) = uint16(v)
	case 4:
		*(*uint32)(p) = uint32(v)
	default:
		*(*uint64)(p) = v
	}
}
