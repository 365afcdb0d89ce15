package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/superstep/superstep/internal/display"
)

// parseBytes parses a size such as 512, 64k, 16MB, 16MiB or 2G (units are
// powers of 1024).
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 512MB or 2GiB)", s)
	}
	return int64(v * float64(mult)), nil
}

// formatBytes prints a byte count with a binary unit.
func formatBytes(n int64) string { return display.Bytes(n) }
