package auth

import (
	"strings"
	"testing"
)

func TestRandomIDShapeAndUniqueness(t *testing.T) {
	const n = 10000
	seen := make(map[string]struct{}, n)
	counts := make(map[rune]int)
	for i := 0; i < n; i++ {
		id := RandomID()
		if len(id) != IDLength {
			t.Fatalf("len(%q) = %d, want %d", id, len(id), IDLength)
		}
		for _, r := range id {
			if !strings.ContainsRune(idAlphabet, r) {
				t.Fatalf("%q contains %q outside [A-Za-z0-9]", id, r)
			}
			counts[r]++
		}
		if _, dup := seen[id]; dup {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = struct{}{}
	}
	// 320000 characters over 62 symbols: about 5161 each with a standard
	// deviation near 71, so ±15% only fails on a real bias (modulo bias on
	// 256 values would still pass; this guards against gross mistakes such as
	// a truncated alphabet).
	mean := float64(n*IDLength) / float64(len(idAlphabet))
	if len(counts) != len(idAlphabet) {
		t.Fatalf("only %d distinct characters used", len(counts))
	}
	for r, c := range counts {
		if float64(c) < 0.85*mean || float64(c) > 1.15*mean {
			t.Errorf("character %q appeared %d times, mean %.0f", r, c, mean)
		}
	}
}

func TestIDAlphabetRejection(t *testing.T) {
	if len(idAlphabet) != 62 {
		t.Fatalf("alphabet has %d characters", len(idAlphabet))
	}
	if idRejectAt != 248 || idRejectAt%len(idAlphabet) != 0 {
		t.Fatalf("idRejectAt = %d, want 248", idRejectAt)
	}
}
