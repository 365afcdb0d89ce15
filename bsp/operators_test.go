package bsp_test

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/superstep/superstep/bsp"
)

// event is a record type with several column kinds.
type event struct {
	User  string
	Score int64
	Tags  []string
	Ratio float64
}

func randomEvents(r interface{ IntN(int) int }, n, users int) []event {
	out := make([]event, n)
	for i := range out {
		tags := make([]string, r.IntN(3))
		for j := range tags {
			tags[j] = fmt.Sprintf("t%d", r.IntN(5))
		}
		out[i] = event{User: fmt.Sprintf("user-%04d-%s", r.IntN(users), strings.Repeat("x", r.IntN(40))),
			Score: int64(r.IntN(2000)) - 1000, Tags: tags, Ratio: float64(r.IntN(1000)) / 7}
	}
	return out
}

func kvs(evs []event) []bsp.KV[string, int64] {
	out := make([]bsp.KV[string, int64], len(evs))
	for i, e := range evs {
		out[i] = bsp.KV[string, int64]{Key: e.User, Value: e.Score}
	}
	return out
}

func sortKV[K cmp.Ordered, V any](xs []bsp.KV[K, V], less func(a, b V) int) {
	slices.SortStableFunc(xs, func(a, b bsp.KV[K, V]) int {
		if c := cmp.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		if less == nil {
			return 0
		}
		return less(a.Value, b.Value)
	})
}

func equalOrFatal[T any](t *testing.T, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Fatalf("record %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func TestNarrow(t *testing.T) {
	s := seed(t)
	in := randomEvents(newRand(s), 5000, 100)
	var want []string
	for _, e := range in {
		if e.Score%3 == 0 {
			continue
		}
		for _, tag := range e.Tags {
			want = append(want, fmt.Sprintf("%s/%s/%d", e.User, tag, e.Score*2))
		}
	}
	forLayouts(t, func(t *testing.T, l layout) {
		got := collect(t, l, func(p *bsp.Plan) bsp.Dataset[string] {
			d := bsp.FromSlice(p, in, l.partitions)
			d = bsp.Filter(d, func(e event) bool { return e.Score%3 != 0 })
			d = bsp.Map(d, func(e event) event { e.Score *= 2; return e })
			return bsp.FlatMap(d, func(e event, emit func(string)) {
				for _, tag := range e.Tags {
					emit(fmt.Sprintf("%s/%s/%d", e.User, tag, e.Score))
				}
			})
		})
		// Narrow operators keep input order: FromSlice splits are contiguous.
		equalOrFatal(t, got, want)
	})
}

func TestMapBatches(t *testing.T) {
	in := make([]int64, 20000)
	for i := range in {
		in[i] = int64(i) - 500
	}
	forLayouts(t, func(t *testing.T, l layout) {
		got := collect(t, l, func(p *bsp.Plan) bsp.Dataset[float64] {
			return bsp.MapBatches[int64, float64](bsp.FromSlice(p, in, l.partitions), func(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
				col := rec.Column(0).(*array.Int64)
				b := array.NewFloat64Builder(memory.DefaultAllocator)
				defer b.Release()
				for i := 0; i < col.Len(); i++ {
					b.Append(float64(col.Value(i)) / 2)
				}
				arr := b.NewArray()
				defer arr.Release()
				schema := arrow.NewSchema([]arrow.Field{{Name: "value", Type: arrow.PrimitiveTypes.Float64}}, nil)
				return array.NewRecordBatch(schema, []arrow.Array{arr}, int64(arr.Len())), nil
			})
		})
		if len(got) != len(in) {
			t.Fatalf("got %d, want %d", len(got), len(in))
		}
		for i, v := range got {
			if v != float64(in[i])/2 {
				t.Fatalf("record %d: %v, want %v", i, v, float64(in[i])/2)
			}
		}
	})
}

func TestReduceByKey(t *testing.T) {
	s := seed(t)
	in := kvs(randomEvents(newRand(s), 30000, 3000))
	sums := map[string]int64{}
	for _, kv := range in {
		sums[kv.Key] += kv.Value
	}
	var want []bsp.KV[string, int64]
	for _, k := range slices.Sorted(maps.Keys(sums)) {
		want = append(want, bsp.KV[string, int64]{Key: k, Value: sums[k]})
	}
	forLayouts(t, func(t *testing.T, l layout) {
		got := collect(t, l, func(p *bsp.Plan) bsp.Dataset[bsp.KV[string, int64]] {
			return bsp.ReduceByKey(bsp.FromSlice(p, in, 5), func(a, b int64) int64 { return a + b })
		})
		sortKV(got, nil)
		equalOrFatal(t, got, want)
	})
}

// compositeKey checks struct keys and negative integers through the shuffle.
type compositeKey struct {
	Region string
	Year   int32
}

func TestCombineByKeyCompositeKey(t *testing.T) {
	s := seed(t)
	r := newRand(s)
	type avg struct{ Sum, N int64 }
	in := make([]bsp.KV[compositeKey, int64], 20000)
	want := map[compositeKey]avg{}
	for i := range in {
		k := compositeKey{Region: fmt.Sprintf("r%d", r.IntN(30)), Year: int32(r.IntN(40)) - 20}
		v := int64(r.IntN(100))
		in[i] = bsp.KV[compositeKey, int64]{Key: k, Value: v}
		a := want[k]
		want[k] = avg{a.Sum + v, a.N + 1}
	}
	forLayouts(t, func(t *testing.T, l layout) {
		got := collect(t, l, func(p *bsp.Plan) bsp.Dataset[bsp.KV[compositeKey, avg]] {
			return bsp.CombineByKey(bsp.FromSlice(p, in, 4),
				func(v int64) avg { return avg{v, 1} },
				func(a avg, v int64) avg { return avg{a.Sum + v, a.N + 1} },
				func(a, b avg) avg { return avg{a.Sum + b.Sum, a.N + b.N} })
		})
		if len(got) != len(want) {
			t.Fatalf("got %d keys, want %d", len(got), len(want))
		}
		for _, kv := range got {
			if want[kv.Key] != kv.Value {
				t.Fatalf("key %v: got %v, want %v", kv.Key, kv.Value, want[kv.Key])
			}
		}
	})
}

func TestGroupByKeyKeepsInputOrder(t *testing.T) {
	s := seed(t)
	in := kvs(randomEvents(newRand(s), 20000, 500))
	groups := map[string][]int64{}
	for _, kv := range in {
		groups[kv.Key] = append(groups[kv.Key], kv.Value)
	}
	forLayouts(t, func(t *testing.T, l layout) {
		got := collect(t, l, func(p *bsp.Plan) bsp.Dataset[bsp.KV[string, []int64]] {
			return bsp.GroupByKey(bsp.FromSlice(p, in, 7))
		})
		if len(got) != len(groups) {
			t.Fatalf("got %d groups, want %d", len(got), len(groups))
		}
		for _, g := range got {
			if !slices.Equal(g.Value, groups[g.Key]) {
				t.Fatalf("group %q: got %v, want %v", g.Key, g.Value, groups[g.Key])
			}
		}
	})
}

func TestFlatMapGroupsPartialConsumption(t *testing.T) {
	s := seed(t)
	in := kvs(randomEvents(newRand(s), 10000, 300))
	groups := map[string][]int64{}
	for _, kv := range in {
		groups[kv.Key] = append(groups[kv.Key], kv.Value)
	}
	forLayouts(t, func(t *testing.T, l layout) {
		// Take at most two values of each group and skip every third group
		// entirely: the rest must be skipped without mixing groups.
		got := collect(t, l, func(p *bsp.Plan) bsp.Dataset[bsp.KV[string, []int64]] {
			return bsp.FlatMapGroups(bsp.FromSlice(p, in, 3), func(k string, vals iter.Seq[int64], emit func(bsp.KV[string, []int64])) {
				if len(k)%3 == 0 {
					return
				}
				var first []int64
				for v := range vals {
					first = append(first, v)
					if len(first) == 2 {
						break
					}
				}
				emit(bsp.KV[string, []int64]{Key: k, Value: first})
			})
		})
		n := 0
		for k, vs := range groups {
			if len(k)%3 != 0 {
				n++
				_ = vs
			}
		}
		if len(got) != n {
			t.Fatalf("got %d groups, want %d", len(got), n)
		}
		for _, g := range got {
			want := groups[g.Key][:min(2, len(groups[g.Key]))]
			if !slices.Equal(g.Value, want) {
				t.Fatalf("group %q: got %v, want %v", g.Key, g.Value, want)
			}
		}
	})
}

func TestJoins(t *testing.T) {
	s := seed(t)
	r := newRand(s)
	left := make([]bsp.KV[int64, string], 3000)
	right := make([]bsp.KV[int64, float64], 2000)
	for i := range left {
		left[i] = bsp.KV[int64, string]{Key: int64(r.IntN(800)) - 400, Value: fmt.Sprintf("l%d", i)}
	}
	for i := range right {
		right[i] = bsp.KV[int64, float64]{Key: int64(r.IntN(800)) - 200, Value: float64(i)}
	}
	type row = bsp.KV[int64, bsp.LeftJoined[string, float64]]
	var wantInner, wantOuter []string
	for _, a := range left {
		matched := false
		for _, b := range right {
			if a.Key == b.Key {
				matched = true
				wantInner = append(wantInner, fmt.Sprint(a.Key, a.Value, b.Value))
				wantOuter = append(wantOuter, fmt.Sprint(a.Key, a.Value, b.Value, true))
			}
		}
		if !matched {
			wantOuter = append(wantOuter, fmt.Sprint(a.Key, a.Value, 0, false))
		}
	}
	slices.Sort(wantInner)
	slices.Sort(wantOuter)
	forLayouts(t, func(t *testing.T, l layout) {
		inner := collect(t, l, func(p *bsp.Plan) bsp.Dataset[bsp.KV[int64, bsp.Joined[string, float64]]] {
			return bsp.Join(bsp.FromSlice(p, left, 3), bsp.FromSlice(p, right, 2))
		})
		var got []string
		for _, x := range inner {
			got = append(got, fmt.Sprint(x.Key, x.Value.Left, x.Value.Right))
		}
		slices.Sort(got)
		equalOrFatal(t, got, wantInner)

		outer := collect(t, l, func(p *bsp.Plan) bsp.Dataset[row] {
			return bsp.LeftJoin(bsp.FromSlice(p, left, 3), bsp.FromSlice(p, right, 2))
		})
		got = got[:0]
		for _, x := range outer {
			got = append(got, fmt.Sprint(x.Key, x.Value.Left, x.Value.Right, x.Value.Matched))
		}
		slices.Sort(got)
		equalOrFatal(t, got, wantOuter)
	})
}

func TestSortByIsGlobalAndStable(t *testing.T) {
	s := seed(t)
	in := randomEvents(newRand(s), 20000, 50)
	want := slices.Clone(in)
	slices.SortStableFunc(want, func(a, b event) int { return cmp.Compare(a.Score, b.Score) })
	forLayouts(t, func(t *testing.T, l layout) {
		got := collect(t, l, func(p *bsp.Plan) bsp.Dataset[event] {
			return bsp.SortBy(bsp.FromSlice(p, in, 4), func(e event) int64 { return e.Score })
		})
		equalOrFatal(t, got, want)
	})
}

func TestSortDistinctCountUnionRepartition(t *testing.T) {
	s := seed(t)
	r := newRand(s)
	a := make([]string, 8000)
	b := make([]string, 3000)
	for i := range a {
		a[i] = fmt.Sprintf("%x", r.IntN(5000))
	}
	for i := range b {
		b[i] = fmt.Sprintf("%x", r.IntN(9000))
	}
	all := append(slices.Clone(a), b...)
	sorted := slices.Clone(all)
	slices.Sort(sorted)
	distinct := slices.Compact(slices.Clone(sorted))
	forLayouts(t, func(t *testing.T, l layout) {
		got := collect(t, l, func(p *bsp.Plan) bsp.Dataset[string] {
			return bsp.Sort(bsp.Union([]bsp.Dataset[string]{bsp.FromSlice(p, a, 3), bsp.FromSlice(p, b, 2)}))
		})
		equalOrFatal(t, got, sorted)

		got = collect(t, l, func(p *bsp.Plan) bsp.Dataset[string] {
			return bsp.Distinct(bsp.FromSlice(p, all, 4))
		})
		slices.Sort(got)
		equalOrFatal(t, got, distinct)

		n := collect(t, l, func(p *bsp.Plan) bsp.Dataset[int64] {
			return bsp.Count(bsp.Repartition(bsp.FromSlice(p, all, 3), 5))
		})
		equalOrFatal(t, n, []int64{int64(len(all))})

		got = collect(t, l, func(p *bsp.Plan) bsp.Dataset[string] {
			return bsp.Repartition(bsp.FromSlice(p, all, 3), 5)
		})
		slices.Sort(got)
		equalOrFatal(t, got, sorted)
	})
}

func TestEmptyInputs(t *testing.T) {
	forLayouts(t, func(t *testing.T, l layout) {
		got := collect(t, l, func(p *bsp.Plan) bsp.Dataset[bsp.KV[string, int64]] {
			return bsp.ReduceByKey(bsp.FromSlice(p, []bsp.KV[string, int64](nil), 3), func(a, b int64) int64 { return a + b })
		})
		if len(got) != 0 {
			t.Fatalf("got %v", got)
		}
		n := collect(t, l, func(p *bsp.Plan) bsp.Dataset[int64] {
			return bsp.Count(bsp.FromSlice(p, []string(nil), 3))
		})
		equalOrFatal(t, n, []int64{0})
	})
}

func TestUserPanicIsTaskError(t *testing.T) {
	p := bsp.NewPlan(2)
	bsp.Collect(bsp.Map(bsp.FromSlice(p, []int{1, 2, 3}, 1), func(x int) int {
		if x == 2 {
			panic("boom at two")
		}
		return x
	}))
	_, err := execute(t, p, layouts[0])
	var te *bsp.TaskError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "boom at two") || te.Stack == "" {
		t.Fatalf("want a TaskError with the panic and its stack, got %v", err)
	}
}

func TestUnsupportedTypeFailsAtPlanTime(t *testing.T) {
	type page struct {
		URL  string
		Meta map[string]string
	}
	p := bsp.NewPlan(2)
	bsp.Collect(bsp.FromSlice(p, []page{{URL: "x"}}, 1))
	_, err := execute(t, p, layouts[0])
	if !errors.Is(err, bsp.ErrPlan) || !strings.Contains(err.Error(), "Meta") {
		t.Fatalf("want a plan error naming field Meta, got %v", err)
	}
}
