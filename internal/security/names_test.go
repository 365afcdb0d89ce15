package security

import (
	"errors"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"job-1", true}, {"20260101-120000-abcd", true}, {"a.b_c-D9", true}, {strings.Repeat("x", 64), true},
		{"...", true}, {".hidden", true},
		{"", false}, {".", false}, {"..", false}, {"a/b", false}, {"../x", false}, {`a\b`, false},
		{strings.Repeat("x", 65), false}, {"a b", false}, {"é", false}, {"a\x00", false}, {"/abs", false},
	} {
		err := ValidName("job", c.name)
		if (err == nil) != c.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrBadName) {
			t.Errorf("ValidName(%q): %v does not match ErrBadName", c.name, err)
		}
	}
}
