package corpus

import (
	"testing"
)

// checkFuzz reads data as a file of the given name and checks what comes
// out: no panic, no body over MaxPageBytes, no error (bytes never fail to
// read and the page callback never fails).
func checkFuzz(t *testing.T, name string, data []byte) {
	g := readBytes(name, data)
	if g.err != nil {
		t.Fatalf("error: %v", g.err)
	}
	for _, p := range g.pages {
		if len(p.Body) > MaxPageBytes || len(p.Body) == 0 {
			t.Fatalf("page %s with a body of %d bytes", p.URL, len(p.Body))
		}
		if p.URL == "" || p.Source == "" {
			t.Fatalf("page without URL or Source: %+v", p)
		}
	}
	for _, p := range g.problems {
		if p.Kind == "" || p.Source == "" {
			t.Fatalf("problem without kind or source: %+v", p)
		}
	}
}

func FuzzReadWARC(f *testing.F) {
	for _, tc := range warcCases() {
		if len(tc.data) < 64<<10 { // the fuzzer mutates small inputs best
			f.Add(tc.data, tc.name[len(tc.name)-3:] == ".gz")
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, gzipName bool) {
		name := "f.warc"
		if gzipName {
			name += ".gz"
		}
		checkFuzz(t, name, data)
	})
}

func FuzzReadTarGz(f *testing.F) {
	for _, tc := range tarCases(f) {
		if len(tc.data) < 64<<10 {
			f.Add(tc.data, tc.name[len(tc.name)-4:] == ".tar")
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, plain bool) {
		name := "f.tar.gz"
		if plain {
			name = "f.tar"
		}
		checkFuzz(t, name, data)
	})
}
