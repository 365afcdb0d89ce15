package bsp_test

import (
	"iter"
	"strings"
	"testing"

	"github.com/superstep/superstep/bsp"
)

// TestLargeGroupSpills pushes 100 MB through FlatMapGroups with a 4 MB
// budget: half the records share one key, so one group is many times the
// budget. Map tasks must spill, the reducer must merge in several passes,
// and every value must arrive, in input order.
func TestLargeGroupSpills(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB shuffle; runs without -short")
	}
	const (
		tasks   = 8
		perTask = 125_000 // 8 x 125k x ~100 bytes = 100 MB
	)
	seeds := make([]int, tasks)
	for i := range seeds {
		seeds[i] = i
	}
	type stat struct {
		N       int64
		Bytes   int64
		Ordered bool
	}
	p := bsp.NewPlan(4)
	rows := bsp.FlatMap(bsp.FromSlice(p, seeds, tasks), func(task int, emit func(bsp.KV[string, string])) {
		pad := strings.Repeat("v", 80)
		for i := range perTask {
			key := "hot"
			if i%2 == 1 {
				key = "k" + string(rune('a'+i%26))
			}
			emit(bsp.KV[string, string]{Key: key, Value: pad + itoa(task*perTask+i)})
		}
	})
	h := bsp.Collect(bsp.FlatMapGroups(rows, func(k string, vals iter.Seq[string], emit func(bsp.KV[string, stat])) {
		s := stat{Ordered: true}
		prev := -1
		for v := range vals {
			s.N++
			s.Bytes += int64(len(v))
			n := atoi(v[80:])
			if n <= prev {
				s.Ordered = false
			}
			prev = n
		}
		emit(bsp.KV[string, stat]{Key: k, Value: s})
	}))
	res, err := execute(t, p, layout{partitions: 4, slots: 2, memory: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	got, err := bsp.ReadCollected(t.Context(), res, h)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, g := range got {
		if !g.Value.Ordered {
			t.Errorf("group %q: values out of input order", g.Key)
		}
		total += g.Value.N
		if g.Key == "hot" && g.Value.N != tasks*perTask/2 {
			t.Errorf("hot group has %d values, want %d", g.Value.N, tasks*perTask/2)
		}
	}
	if total != tasks*perTask {
		t.Fatalf("%d values arrived, want %d", total, tasks*perTask)
	}
	spills := 0
	for _, s := range res.Stages {
		spills += s.Spills
	}
	if spills == 0 {
		t.Fatal("no map task spilled under a 4 MB budget")
	}
	t.Logf("%d spills; shuffle %d bytes raw", spills, res.Stages[0].ShuffleRaw)
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
