package faults

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestRulesRoundTrip(t *testing.T) {
	rules := []Rule{
		{Worker: "w-1", Job: "j1", Stage: 1, Task: 2, Attempt: 0, Delay: 10 * time.Second},
		{Stage: -1, Task: 3, Attempt: -1, Delay: 250 * time.Millisecond},
	}
	got, err := ParseRules("# a comment\n\n" + FormatRules(rules))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rules) {
		t.Fatalf("round trip: got %+v, want %+v", got, rules)
	}
}

func TestParseRulesErrors(t *testing.T) {
	for _, text := range []string{
		"kill stage=1 delay=1s",
		"slow stage=1",
		"slow stage=x delay=1s",
		"slow task=-2 delay=1s",
		"slow delay=-1s",
		"slow colour=red delay=1s",
		"slow stage delay=1s",
	} {
		if _, err := ParseRules("slow delay=1s\n" + text); !errors.Is(err, ErrBadRule) {
			t.Errorf("%q: error %v, want ErrBadRule", text, err)
		}
	}
}

func TestDelayFor(t *testing.T) {
	rules, err := ParseRules("slow stage=1 task=2 attempt=0 delay=5s\nslow worker=w-2 delay=1s\nslow worker=w-2 stage=1 delay=3s")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t    Task
		want time.Duration
	}{
		{Task{Worker: "w-1", Stage: 1, Task: 2, Attempt: 0}, 5 * time.Second},
		{Task{Worker: "w-1", Stage: 1, Task: 2, Attempt: 1}, 0},
		{Task{Worker: "w-1", Stage: 0, Task: 2, Attempt: 0}, 0},
		{Task{Worker: "w-2", Stage: 0, Task: 0, Attempt: 4}, time.Second},
		{Task{Worker: "w-2", Stage: 1, Task: 0, Attempt: 4}, 3 * time.Second},
		{Task{Worker: "w-2", Stage: 1, Task: 2, Attempt: 0}, 5 * time.Second},
	} {
		if got := delayFor(rules, c.t); got != c.want {
			t.Errorf("%+v: delay %v, want %v", c.t, got, c.want)
		}
	}
}
