package bench

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseMix(t *testing.T) {
	m, err := ParseMix(" list=40, get=30,create=10,update=10,stats=5,session=5,delete=0 ")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.String(), "list=40,get=30,create=10,update=10,stats=5,session=5"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if m.Has(OpDelete) || !m.Has(OpSession) {
		t.Error("Has: a zero weight must leave the operation out")
	}
	counts := map[Op]int{}
	r := rand.New(rand.NewPCG(7, 8))
	const n = 100000
	for range n {
		counts[m.Pick(r)]++
	}
	for _, w := range m.Weights() {
		got := float64(counts[w.Op]) / n * 100
		if d := got - float64(w.Weight); d > 1 || d < -1 {
			t.Errorf("%s picked %.1f%% of the time, want %d%%", w.Op, got, w.Weight)
		}
	}
	if counts[OpDelete] != 0 {
		t.Error("delete was picked with weight 0")
	}

	def, err := ParseMix(DefaultMix)
	if err != nil {
		t.Fatalf("DefaultMix: %v", err)
	}
	total := 0
	for _, w := range def.Weights() {
		total += w.Weight
	}
	// Every operation but login, which makes a session each time: a flood
	// to run beside a mix, not part of one.
	if total != 100 || len(def.Weights()) != len(Ops)-1 || def.Has(OpLogin) {
		t.Errorf("DefaultMix has %d operations weighing %d; want all %d but login, weighing 100", len(def.Weights()), total, len(Ops)-1)
	}

	single := SingleOp(OpList)
	if single.Pick(r) != OpList || single.String() != "list" {
		t.Error("SingleOp")
	}
}

func TestParseMixErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"":                  "no operation",
		"list=0,get=0":      "no operation",
		"list":              "op=weight",
		"list=x":            "whole number",
		"list=-1":           "whole number",
		"list=1,list=2":     "twice",
		"lists=3":           "unknown operation",
		"mix=3":             "unknown operation",
		"list=1,,get=2000x": "whole number",
	} {
		_, err := ParseMix(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseMix(%q) = %v, want an error containing %q", spec, err, want)
		}
	}
	if op, err := ParseOp(" Overview "); err != nil || op != OpOverview {
		t.Errorf("ParseOp: %v %v", op, err)
	}
}

func TestTaskID(t *testing.T) {
	for body, want := range map[string]int64{
		`{"id":42,"title":"x","user_id":"abc"}`:                   42,
		`{"user_id":"abc","title":"\"id\":7","id": 9}`:            9,
		`{"title":"a","id":123456789012,"description":null}`:      123456789012,
		`{"type":"about:blank","title":"Not Found","status":404}`: 0,
	} {
		got, ok := taskID([]byte(body))
		if got != want || ok != (want != 0) {
			t.Errorf("taskID(%s) = %d, %v; want %d", body, got, ok, want)
		}
	}
}
