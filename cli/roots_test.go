package cli

import (
	"fmt"
	"testing"
)

// SUPERSTEP_ALLOW_PATH keeps URL roots whole: the ':' of "s3://" is not a
// list separator.
func TestSplitRoots(t *testing.T) {
	for v, want := range map[string]string{
		"/data":                     "[/data]",
		"/data:/scratch":            "[/data /scratch]",
		"/data:s3://superstep/jobs": "[/data s3://superstep/jobs]",
		"s3://a:s3://b/x:/data":     "[s3://a s3://b/x /data]",
		"/data::/x":                 "[/data  /x]",
		"relative:/data":            "[relative /data]",
	} {
		if got := fmt.Sprint(splitRoots(v)); got != want {
			t.Errorf("splitRoots(%q) = %s, want %s", v, got, want)
		}
	}
}
