package bsp_test

import (
	"testing"

	"github.com/superstep/superstep/bsp"
)

var _ bsp.ResidentStore = (*bsp.MemResident)(nil)

func TestMemResident(t *testing.T) {
	r := bsp.NewMemResident()
	r.Put("job/1/0", 1)
	r.Put("job/1/1", 2)
	r.Put("job2/1/0", 3)
	if v, ok := r.Get("job/1/1"); !ok || v != 2 {
		t.Fatalf("get: %v %v", v, ok)
	}
	r.Delete("job/1/1")
	if _, ok := r.Get("job/1/1"); ok {
		t.Fatal("deleted entry still there")
	}
	r.DropJob("job")
	if _, ok := r.Get("job/1/0"); ok || r.Len() != 1 {
		t.Fatalf("after dropping job: %d entries", r.Len())
	}
	if v, ok := r.Get("job2/1/0"); !ok || v != 3 {
		t.Fatal("dropping job removed job2's entry")
	}
}
