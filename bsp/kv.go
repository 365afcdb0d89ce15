package bsp

// KV is a key and a value. Keyed operators (ReduceByKey, GroupByKey, Join, ...)
// take datasets of KV; the key type must be orderable: a bool, integer, float,
// string, []byte, time.Time, or a struct of those.
type KV[K, V any] struct {
	Key   K
	Value V
}

// Joined is the value of an inner Join: one left and one right value that share
// a key.
type Joined[A, B any] struct {
	Left  A
	Right B
}

// LeftJoined is the value of a LeftJoin. Matched is false (and Right the zero
// value) when no right value has the key.
type LeftJoined[A, B any] struct {
	Left    A
	Right   B
	Matched bool
}
