package shuffle

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The Arrow IPC reader trusts the flatbuffer metadata it parses: a vector
// length taken from damaged metadata sizes an allocation before anything is
// read, and a large enough one kills the process with an out-of-memory
// error that no recover can catch. The block checksum catches damage in
// transit and on disk; verifyIPCStream is the second line for data that
// passes it anyway (forged, or a checksum collision). Before the stream
// reaches the reader it walks every message's metadata, following the
// offsets the reader follows, and rejects anything that points outside the
// metadata, any vector too long for the bytes behind it, and any message
// body longer than the rest of the stream.

// Slots of the Arrow flatbuffer tables (format/Schema.fbs, Message.fbs).
const (
	msgHeaderType, msgHeader, msgBodyLength, msgCustomMetadata = 1, 2, 3, 4
	schemaFields, schemaCustomMetadata, schemaFeatures         = 1, 2, 3
	fieldName, fieldTypeType, fieldType, fieldDictionary       = 0, 2, 3, 4
	fieldChildren, fieldCustomMetadata                         = 5, 6
	dictEncIndexType                                           = 1
	kvKey, kvValue                                             = 0, 1
	batchNodes, batchBuffers, batchCompression, batchVariadic  = 1, 2, 3, 4
	dictBatchData                                              = 1
	typeTimestamp, typeUnion                                   = 10, 14
	headerSchema, headerDictionaryBatch, headerRecordBatch     = 1, 2, 3
	maxFieldDepth                                              = 64
)

var errBadMetadata = errors.New("bad IPC metadata")

// verifyIPCStream checks the framing of an IPC stream and the metadata of
// each message, up to the end-of-stream marker, which must end the stream.
func verifyIPCStream(s []byte) error {
	for n := 0; ; n++ {
		if len(s) < 4 {
			return fmt.Errorf("message %d: stream ends without an end-of-stream marker", n)
		}
		l := binary.LittleEndian.Uint32(s)
		s = s[4:]
		if l == 0xFFFFFFFF { // continuation token, then the length
			if len(s) < 4 {
				return fmt.Errorf("message %d: truncated length", n)
			}
			l = binary.LittleEndian.Uint32(s)
			s = s[4:]
		}
		if l == 0 {
			if len(s) != 0 {
				return fmt.Errorf("%d bytes after the end-of-stream marker", len(s))
			}
			return nil
		}
		if uint64(l) > uint64(len(s)) || l < 8 {
			return fmt.Errorf("message %d: metadata length %d", n, l)
		}
		body, err := verifyMessage(s[:l])
		if err != nil {
			return fmt.Errorf("message %d: %w", n, err)
		}
		s = s[l:]
		if body > int64(len(s)) {
			return fmt.Errorf("message %d: body of %d bytes, %d left", n, body, len(s))
		}
		s = s[body:]
	}
}

// fbCheck walks one flatbuffer. Every read is bounds-checked; the first
// failure sets bad and later reads return zero values.
type fbCheck struct {
	b      []byte
	tables int // tables left to visit, so shared offsets cannot blow up the walk
	bad    bool
}

// fbTable is a verified table: its position and its vtable's.
type fbTable struct{ pos, vt, vtLen, size int }

func (c *fbCheck) in(p, n int) bool {
	if c.bad || p < 0 || n < 0 || p > len(c.b) || n > len(c.b)-p {
		c.bad = true
		return false
	}
	return true
}

func (c *fbCheck) u16(p int) int {
	if !c.in(p, 2) {
		return 0
	}
	return int(binary.LittleEndian.Uint16(c.b[p:]))
}

func (c *fbCheck) u32(p int) int {
	if !c.in(p, 4) {
		return 0
	}
	return int(binary.LittleEndian.Uint32(c.b[p:]))
}

// table verifies the table at p: its vtable and its inline fields lie in
// the buffer.
func (c *fbCheck) table(p int) fbTable {
	if c.tables--; c.tables < 0 {
		c.bad = true
	}
	if !c.in(p, 4) {
		return fbTable{}
	}
	vt := p - int(int32(binary.LittleEndian.Uint32(c.b[p:])))
	vtLen, size := c.u16(vt), c.u16(vt+2)
	if c.bad || vtLen < 4 || vtLen%2 != 0 || !c.in(vt, vtLen) || size < 4 || !c.in(p, size) {
		c.bad = true
		return fbTable{}
	}
	for off := 4; off < vtLen; off += 2 {
		if f := c.u16(vt + off); f != 0 && f >= size {
			c.bad = true // a field starting outside its table
		}
	}
	return fbTable{pos: p, vt: vt, vtLen: vtLen, size: size}
}

// field returns the position of slot's value, or -1 when it is absent.
func (c *fbCheck) field(t fbTable, slot int) int {
	off := 4 + 2*slot
	if c.bad || off+2 > t.vtLen {
		return -1
	}
	f := c.u16(t.vt + off)
	if f == 0 {
		return -1
	}
	return t.pos + f
}

// ref follows the offset in slot; -1 when absent.
func (c *fbCheck) ref(t fbTable, slot int) int {
	p := c.field(t, slot)
	if p < 0 {
		return -1
	}
	return p + c.u32(p)
}

// vector checks that the vector in slot holds elements of elem bytes inside
// the buffer and returns its first element's position and its length.
func (c *fbCheck) vector(t fbTable, slot, elem int) (start, n int) {
	v := c.ref(t, slot)
	if v < 0 || !c.in(v, 4) {
		return 0, 0
	}
	n = c.u32(v)
	if n > (len(c.b)-v-4)/elem {
		c.bad = true
		return 0, 0
	}
	return v + 4, n
}

// tableVector calls fn on each table of the vector of tables in slot.
func (c *fbCheck) tableVector(t fbTable, slot int, fn func(fbTable)) {
	start, n := c.vector(t, slot, 4)
	for i := 0; i < n && !c.bad; i++ {
		p := start + 4*i
		fn(c.table(p + c.u32(p)))
	}
}

// optTable calls fn on the table in slot, if present.
func (c *fbCheck) optTable(t fbTable, slot int, fn func(fbTable)) {
	if p := c.ref(t, slot); p >= 0 && !c.bad {
		fn(c.table(p))
	}
}

func (c *fbCheck) keyValues(t fbTable, slot int) {
	c.tableVector(t, slot, func(kv fbTable) {
		c.vector(kv, kvKey, 1)
		c.vector(kv, kvValue, 1)
	})
}

func (c *fbCheck) checkField(f fbTable, depth int) {
	if depth > maxFieldDepth {
		c.bad = true
		return
	}
	c.vector(f, fieldName, 1)
	typ := 0
	if p := c.field(f, fieldTypeType); p >= 0 && c.in(p, 1) {
		typ = int(c.b[p])
	}
	c.optTable(f, fieldType, func(tt fbTable) {
		switch typ {
		case typeTimestamp:
			c.vector(tt, 1, 1) // timezone
		case typeUnion:
			c.vector(tt, 1, 4) // typeIds
		}
	})
	c.optTable(f, fieldDictionary, func(d fbTable) { c.optTable(d, dictEncIndexType, func(fbTable) {}) })
	c.tableVector(f, fieldChildren, func(ch fbTable) { c.checkField(ch, depth+1) })
	c.keyValues(f, fieldCustomMetadata)
}

func (c *fbCheck) recordBatch(rb fbTable) {
	c.vector(rb, batchNodes, 16)
	c.vector(rb, batchBuffers, 16)
	c.optTable(rb, batchCompression, func(fbTable) {})
	c.vector(rb, batchVariadic, 8)
}

// verifyMessage checks one message's metadata and returns its body length.
func verifyMessage(meta []byte) (int64, error) {
	c := &fbCheck{b: meta, tables: len(meta) / 4}
	m := c.table(c.u32(0))
	kind := -1
	if p := c.field(m, msgHeaderType); p >= 0 && c.in(p, 1) {
		kind = int(c.b[p])
	}
	var body int64
	if p := c.field(m, msgBodyLength); p >= 0 && c.in(p, 8) {
		body = int64(binary.LittleEndian.Uint64(c.b[p:]))
	}
	c.keyValues(m, msgCustomMetadata)
	switch kind {
	case headerSchema:
		c.optTable(m, msgHeader, func(s fbTable) {
			c.tableVector(s, schemaFields, func(f fbTable) { c.checkField(f, 0) })
			c.keyValues(s, schemaCustomMetadata)
			c.vector(s, schemaFeatures, 8)
		})
	case headerRecordBatch:
		c.optTable(m, msgHeader, c.recordBatch)
	case headerDictionaryBatch:
		c.optTable(m, msgHeader, func(d fbTable) { c.optTable(d, dictBatchData, c.recordBatch) })
	default:
		return 0, fmt.Errorf("%w: message type %d", errBadMetadata, kind)
	}
	if c.bad || body < 0 {
		return 0, errBadMetadata
	}
	return body, nil
}
