package shuffle

import "fmt"

// Compression is the compression of shuffle block payloads. Its values are
// stored in block headers, so they never change.
type Compression uint8

// Compressions.
const (
	None Compression = iota // stored as is
	LZ4                     // LZ4 block format: fast, moderate ratio
	Zstd                    // Zstandard, fastest level: better ratio, slower
)

// ParseCompression parses "none", "lz4" or "zstd" (String's output).
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "none":
		return None, nil
	case "lz4":
		return LZ4, nil
	case "zstd":
		return Zstd, nil
	}
	return None, fmt.Errorf("unknown compression %q (want zstd, lz4 or none)", s)
}

// String returns "none", "lz4" or "zstd" ("compression(N)" for an unknown
// value).
func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", uint8(c))
}
