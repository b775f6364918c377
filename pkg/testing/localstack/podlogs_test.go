package localstack

import (
	"strings"
	"testing"
	"time"
)

// Lines without a time are stamped later than every line before them,
// even within one clock tick; lines with a time keep it, and a later
// stamp is later than it too.
func TestCRILinesStamps(t *testing.T) {
	s := &Stack{}
	fixed := time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.FixedZone("CET", 3600))
	var all []string
	for range 3 {
		b, err := s.criLines(Lines("a", "b", "c"))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	b, err := s.criLines([]LogLine{{Time: fixed, Text: "fixed"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "2026-03-04T04:06:07.891011Z stdout F fixed\n"; got != want {
		t.Errorf("a line with its own time is %q, want %q", got, want)
	}
	var last time.Time
	for i, l := range all {
		stamp, rest, _ := strings.Cut(l, " ")
		if want := "stdout F " + string(rune('a'+i%3)); rest != want {
			t.Errorf("line %d is %q, want %q after the time", i, l, want)
		}
		ts, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if !ts.After(last) {
			t.Errorf("line %d is stamped %s, not after %s", i, ts, last)
		}
		last = ts
	}

	// A stamp after a line from the future is later still.
	future := time.Now().Add(time.Hour)
	if _, err := s.criLines([]LogLine{{Time: future, Text: "later"}}); err != nil {
		t.Fatal(err)
	}
	b, err = s.criLines(Lines("after"))
	if err != nil {
		t.Fatal(err)
	}
	stamp, _, _ := strings.Cut(string(b), " ")
	if ts, _ := time.Parse(time.RFC3339Nano, stamp); !ts.After(future) {
		t.Errorf("a line stamped after one at %s is stamped %s", future, ts)
	}
}

func TestCRILinesRejectLineBreaks(t *testing.T) {
	s := &Stack{}
	for _, text := range []string{"a\nb", "a\r", "\n"} {
		if _, err := s.criLines(Lines(text)); err == nil {
			t.Errorf("%q: no error", text)
		}
	}
}

func TestCheckContainerName(t *testing.T) {
	for _, name := range []string{"unit", "go-test", "a1"} {
		if err := checkContainerName(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	for _, name := range []string{"", "../x", "a/b", "Unit", probeContainer} {
		if err := checkContainerName(name); err == nil {
			t.Errorf("%q: no error", name)
		}
	}
}
