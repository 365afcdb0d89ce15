package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"testing"
)

// TestSampleIsCurrent regenerates the sample WARC and compares its content
// (decompressed, since compressed bytes may differ between Go versions)
// with the committed file. Run the command to update it.
func TestSampleIsCurrent(t *testing.T) {
	const dir = "../../../testdata/"
	committed, err := os.ReadFile(dir + warcName)
	if err != nil {
		t.Skip("sample WARC missing:", err)
	}
	pages, err := selectPages(dir + "sqlite-doc.tar.gz")
	if err != nil {
		t.Skip("bundled corpus missing:", err)
	}
	var buf bytes.Buffer
	if err := write(&buf, "https://sqlite.org/", pages); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gunzip(t, buf.Bytes()), gunzip(t, committed)) {
		t.Fatalf("%s is stale: run go run ./examples/webindex/corpus/internal/mkwarc from the repository root", warcName)
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
