package codec

import (
	"errors"
	"fmt"
	"reflect"
)

// ErrUnsupportedType is matched (errors.Is) by every error about a Go type
// that a codec, key codec, formatter or parser cannot handle. Such errors
// come back when the codec is built, never per row; their text names the
// type and the field path, e.g.
//
//	codec: main.Page.Meta: unsupported type map[string]string
var ErrUnsupportedType = errors.New("unsupported type")

// ErrInvalidUTF8 is matched by CSV parse errors about a string field that
// is not valid UTF-8.
var ErrInvalidUTF8 = errors.New("invalid UTF-8")

// ErrSchemaMismatch is matched by NewReader errors about a record whose
// schema does not fit T.
var ErrSchemaMismatch = errors.New("codec: schema mismatch")

// ErrBadKey is matched by KeyCodec.Decode errors about malformed key bytes.
var ErrBadKey = errors.New("codec: malformed key bytes")

// ErrUnknownColumn is matched by NewCSVParser errors about a header name
// that matches no field (or matches one twice).
var ErrUnknownColumn = errors.New("codec: CSV column has no field")

// ErrFieldCount is matched by CSVParser.Parse errors about a record whose
// number of fields differs from the header's.
var ErrFieldCount = errors.New("codec: wrong number of CSV fields")

// TypeError describes a Go type the package cannot handle. It matches
// ErrUnsupportedType with errors.Is.
type TypeError struct {
	// Path is where the type was found: the top-level type's name followed
	// by the Go field names, "[]" for slice elements (main.Page.Links[]).
	Path string
	// Type is the offending type.
	Type reflect.Type
	// Reason, when set, replaces the default "unsupported type T" text.
	Reason string
}

func (e *TypeError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("codec: %s: %s", e.Path, e.Reason)
	}
	return fmt.Sprintf("codec: %s: unsupported type %s", e.Path, e.Type)
}

// Is reports whether target is ErrUnsupportedType.
func (e *TypeError) Is(target error) bool { return target == ErrUnsupportedType }

func unsupported(path string, t reflect.Type) error {
	return &TypeError{Path: path, Type: t}
}

// FieldError is the error CSVParser.Parse returns for a field it cannot
// parse. It unwraps to Err (strconv.ErrSyntax, strconv.ErrRange,
// ErrInvalidUTF8, ...).
type FieldError struct {
	// Column is the header name of the field, as given to NewCSVParser.
	Column string
	// Value is the field's text.
	Value string
	// Type is the Go type the text was parsed as ("int64", "time.Time").
	Type string
	// Err is the cause.
	Err error
}

func (e *FieldError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("column %q: parsing %q: %v", e.Column, e.Value, e.Err)
	}
	return fmt.Sprintf("column %q: parsing %q as %s: %v", e.Column, e.Value, e.Type, e.Err)
}

// Unwrap returns Err.
func (e *FieldError) Unwrap() error { return e.Err }
