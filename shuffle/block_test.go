package shuffle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestBlockEveryByteDamaged changes every byte of a small block to every
// other value, for each compression, and cuts it at every length: each must
// be reported as ErrCorrupt, never a panic.
func TestBlockEveryByteDamaged(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	small := makeRecord(mem, []row{{[]byte("a"), 1, "x"}, {[]byte("b"), 2, "y"}, {[]byte("c"), 3, "z"}})
	defer small.Release()
	for _, c := range []Compression{None, LZ4, Zstd} {
		b, err := EncodeBlock(nil, small, c)
		if err != nil {
			t.Fatal(err)
		}
		bad := slices.Clone(b)
		for i := range b {
			for flip := 1; flip < 256; flip++ {
				bad[i] = b[i] ^ byte(flip)
				rec, err := DecodeBlock(bad, mem)
				if err == nil {
					rec.Release()
					t.Fatalf("%s: byte %d ^ %#x went unnoticed", c, i, flip)
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%s: byte %d: error %v does not match ErrCorrupt", c, i, err)
				}
			}
			bad[i] = b[i]
		}
		for n := range len(b) {
			if _, err := DecodeBlock(b[:n], mem); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s: block cut to %d bytes: %v", c, n, err)
			}
		}
		if _, err := DecodeBlock(append(slices.Clone(b), 0), mem); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: block with a trailing byte: %v", c, err)
		}
	}
}

// reframe rewrites the lengths and checksum of an uncompressed block whose
// payload was replaced, so the damage gets past the frame checks and into
// the Arrow parser.
func reframe(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-blockHeader))
	b[16] = byte(None)
	binary.LittleEndian.PutUint32(b[17:], uint32(len(b)-blockHeader))
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[12:], castagnoli))
	return b
}

// TestBlockForgedPayload damages the IPC stream behind a valid frame, the
// case a checksum cannot catch: decoding must fail with ErrCorrupt or
// produce a valid record, never panic, exhaust memory or leak.
func TestBlockForgedPayload(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := seeded(t)
	rec := makeRecord(mem, randomRows(r, 5))
	defer rec.Release()
	good, err := EncodeBlock(nil, rec, None)
	if err != nil {
		t.Fatal(err)
	}
	try := func(what string, b []byte) {
		t.Helper()
		got, err := DecodeBlock(reframe(b), mem)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s: %v does not match ErrCorrupt", what, err)
			}
			return
		}
		got.Release()
	}
	for i := blockHeader; i < len(good); i++ {
		for _, v := range []byte{0x00, 0xff, 0x7f, 0x80, good[i] ^ 0x01, good[i] + 1} {
			b := slices.Clone(good)
			b[i] = v
			try("byte changed", b)
		}
	}
	for n := blockHeader; n < len(good); n++ {
		try("stream cut", slices.Clone(good[:n]))
	}
	for range 2000 {
		b := slices.Clone(good)
		for range 1 + r.IntN(8) {
			b[blockHeader+r.IntN(len(b)-blockHeader)] = byte(r.Uint32())
		}
		try("random damage", b)
	}
	garbage := make([]byte, blockHeader+64)
	copy(garbage, blockMagic)
	for i := blockHeader; i < len(garbage); i++ {
		garbage[i] = byte(r.Uint32())
	}
	try("garbage", garbage)
}

func TestEncodeBlockAppends(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := seeded(t)
	stream := []byte("prefix")
	var want [][]row
	for i, c := range []Compression{Zstd, LZ4, None, Zstd} {
		rows := randomRows(r, 1+i*10)
		rec := makeRecord(mem, rows)
		var err error
		if stream, err = EncodeBlock(stream, rec, c); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		want = append(want, rows)
	}
	if !bytes.HasPrefix(stream, []byte("prefix")) {
		t.Fatal("EncodeBlock overwrote dst")
	}
	// Split the stream with BlockLen, as a fetcher does.
	rest := stream[len("prefix"):]
	for i := range want {
		n, err := BlockLen(rest)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := DecodeBlock(rest[:n], mem)
		if err != nil {
			t.Fatal(err)
		}
		if got := readRows(rec); !rowsEqual(got, want[i]) {
			t.Fatalf("block %d differs", i)
		}
		rec.Release()
		rest = rest[n:]
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left over", len(rest))
	}
	if _, err := BlockLen([]byte("SSB1")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short header: %v", err)
	}
}

func TestEmptyBlock(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := makeRecord(mem, nil)
	defer rec.Release()
	for _, c := range []Compression{None, LZ4, Zstd} {
		b, err := EncodeBlock(nil, rec, c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeBlock(b, mem)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if got.NumRows() != 0 || !got.Schema().Equal(schema) {
			t.Fatalf("%s: got %d rows, schema %s", c, got.NumRows(), got.Schema())
		}
		got.Release()
	}
}

func TestCorruptErrorNamesFileAndOffset(t *testing.T) {
	err := error(&CorruptError{Path: "/data/m-3.ssf", Offset: 4096, Reason: "checksum mismatch"})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatal("CorruptError does not match ErrCorrupt")
	}
	if msg := err.Error(); !strings.Contains(msg, "/data/m-3.ssf") || !strings.Contains(msg, "4096") {
		t.Fatalf("message %q does not name the file and offset", msg)
	}
}

func TestCompressionNames(t *testing.T) {
	for _, c := range []Compression{None, LZ4, Zstd} {
		got, err := ParseCompression(c.String())
		if err != nil || got != c {
			t.Fatalf("ParseCompression(%q) = %v, %v", c.String(), got, err)
		}
	}
	if _, err := ParseCompression("gzip"); err == nil {
		t.Fatal("gzip accepted")
	}
}
