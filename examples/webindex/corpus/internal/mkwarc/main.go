// Command mkwarc makes examples/webindex/testdata/sqlite-doc-sample.warc.gz:
// a WARC/1.0 file of some pages of the bundled SQLite documentation as if
// they had been crawled from https://sqlite.org/.
//
// From the repository root:
//
//	go run ./examples/webindex/corpus/internal/mkwarc
//
// It takes every 8th HTML member (in archive order) of at most 48 KiB until
// it has 80, and writes a warcinfo record and then one response record per
// page (HTTP/1.1 200, Content-Type text/html), each record its own gzip
// member. To exercise the decoders, every 10th response (from the 4th) has
// Content-Encoding: gzip and every 10th (from the 8th) Transfer-Encoding:
// chunked; the others carry a Content-Length. The output depends only on the
// input archive (fixed dates, record IDs derived from the URLs), except that
// the compressed bytes may differ between Go versions; the test in this
// directory compares the decompressed content.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/base32"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
)

// Selection and fixed record fields.
const (
	every    = 8
	maxSize  = 48 << 10
	maxPages = 80
	date     = "2022-12-28T00:00:00Z" // the release date of SQLite 3.40.1
	warcName = "sqlite-doc-sample.warc.gz"
)

func main() {
	in := flag.String("in", "examples/webindex/testdata/sqlite-doc.tar.gz", "the bundled corpus")
	out := flag.String("out", "examples/webindex/testdata/"+warcName, "the WARC file to write")
	base := flag.String("base", "https://sqlite.org/", "base URL of the pages")
	flag.Parse()
	pages, err := selectPages(*in)
	if err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	if err := write(&buf, *base, pages); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d pages, %d bytes\n", *out, len(pages), buf.Len())
}

// page is one member of the corpus.
type page struct {
	path string
	body []byte
}

// selectPages reads the pages the sample holds from the corpus archive.
func selectPages(path string) ([]page, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var pages []page
	for i := 0; len(pages) < maxPages; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if i%every != 0 || h.Typeflag != tar.TypeReg || h.Size > maxSize || !strings.HasSuffix(h.Name, ".html") {
			continue
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		pages = append(pages, page{path: strings.TrimPrefix(h.Name, "./"), body: body})
	}
	return pages, nil
}

// write writes the WARC file: a warcinfo record, then a response per page.
func write(w io.Writer, base string, pages []page) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	record := func(header []string, block []byte) error {
		zw.Reset(w)
		var h strings.Builder
		h.WriteString("WARC/1.0\r\n")
		for _, f := range header {
			h.WriteString(f + "\r\n")
		}
		fmt.Fprintf(&h, "Content-Length: %d\r\n\r\n", len(block))
		io.WriteString(zw, h.String())
		zw.Write(block)
		io.WriteString(zw, "\r\n\r\n")
		return zw.Close()
	}

	info := "software: superstep mkwarc (examples/webindex/corpus/internal/mkwarc)\r\n" +
		"format: WARC File Format 1.0\r\n" +
		"description: sample of the SQLite 3.40.1 documentation (Debian sqlite3-doc), public domain\r\n"
	if err := record([]string{
		"WARC-Type: warcinfo",
		"WARC-Date: " + date,
		"WARC-Filename: " + warcName,
		"WARC-Record-ID: " + recordID("warcinfo:"+warcName),
		"Content-Type: application/warc-fields",
	}, []byte(info)); err != nil {
		return err
	}
	for i, p := range pages {
		uri := base + p.path
		block, payload := httpResponse(i, p.body)
		if err := record([]string{
			"WARC-Type: response",
			"WARC-Date: " + date,
			"WARC-Record-ID: " + recordID("response:"+uri),
			"WARC-Target-URI: " + uri,
			"Content-Type: application/http; msgtype=response",
			"WARC-Block-Digest: " + digest(block),
			"WARC-Payload-Digest: " + digest(payload),
		}, block); err != nil {
			return err
		}
	}
	return nil
}

// httpResponse is the HTTP response of the i-th page and its payload (the
// entity body: transfer coding undone, content coding kept).
func httpResponse(i int, body []byte) (block, payload []byte) {
	var h bytes.Buffer
	h.WriteString("HTTP/1.1 200 OK\r\n")
	h.WriteString("Content-Type: text/html; charset=utf-8\r\n")
	h.WriteString("Date: Wed, 28 Dec 2022 00:00:00 GMT\r\n")
	payload = body
	if i%10 == 3 {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		payload = z.Bytes()
		h.WriteString("Content-Encoding: gzip\r\n")
	}
	if i%10 == 7 {
		h.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		for rest := payload; len(rest) > 0; {
			n := min(len(rest), 4096)
			fmt.Fprintf(&h, "%x\r\n", n)
			h.Write(rest[:n])
			h.WriteString("\r\n")
			rest = rest[n:]
		}
		h.WriteString("0\r\n\r\n")
		return h.Bytes(), payload
	}
	fmt.Fprintf(&h, "Content-Length: %d\r\n\r\n", len(payload))
	h.Write(payload)
	return h.Bytes(), payload
}

// recordID is a name-based (version 5 style) UUID URN for a record.
func recordID(name string) string {
	s := sha1.Sum([]byte("superstep-mkwarc:" + name))
	s[6] = s[6]&0x0f | 0x50
	s[8] = s[8]&0x3f | 0x80
	return fmt.Sprintf("<urn:uuid:%x-%x-%x-%x-%x>", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

// digest is a WARC digest: "sha1:" and the base32 SHA-1.
func digest(b []byte) string {
	s := sha1.Sum(b)
	return "sha1:" + base32.StdEncoding.EncodeToString(s[:])
}
