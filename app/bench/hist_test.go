package bench

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	prev := -1
	for v := uint64(0); v < 1<<16; v++ {
		b := histBucket(v)
		if b < prev || b > prev+1 {
			t.Fatalf("bucket(%d) = %d after %d: buckets must be contiguous and ordered", v, b, prev)
		}
		prev = b
	}
	for range 100000 {
		v := r.Uint64() >> r.IntN(64)
		b := histBucket(v)
		if b < 0 || b >= histBuckets {
			t.Fatalf("bucket(%d) = %d out of range", v, b)
		}
		mid := histValue(b)
		if histBucket(mid) != b {
			t.Fatalf("value %d of bucket %d lies in bucket %d", mid, b, histBucket(mid))
		}
		diff := float64(mid) - float64(v)
		if diff < 0 {
			diff = -diff
		}
		if v > 0 && diff/float64(v) > 1.0/histSubCount {
			t.Fatalf("bucket value %d is %.4f%% off %d", mid, 100*diff/float64(v), v)
		}
	}
	if histBucket(^uint64(0)) != histBuckets-1 {
		t.Fatalf("the largest value is in bucket %d, want %d", histBucket(^uint64(0)), histBuckets-1)
	}
}

func TestHistogramPercentiles(t *testing.T) {
	var h Histogram
	if h.Percentile(50) != 0 || h.Max() != 0 || h.Min() != 0 || h.Mean() != 0 {
		t.Fatal("an empty histogram reports values")
	}
	r := rand.New(rand.NewPCG(3, 4))
	var vals []time.Duration
	for range 200000 {
		// Log-uniform from 10µs to 10s, like real latencies with a long tail.
		d := time.Duration(float64(10*time.Microsecond) * math.Pow(10, r.Float64()*6))
		vals = append(vals, d)
		h.Record(d)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	if h.Count() != uint64(len(vals)) {
		t.Fatalf("count %d, want %d", h.Count(), len(vals))
	}
	if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] {
		t.Fatalf("min/max %v/%v, want %v/%v exactly", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
	}
	for _, p := range []float64{1, 50, 90, 95, 99, 99.9, 100} {
		rank := int(float64(len(vals))*p/100+0.999999) - 1
		want := vals[rank]
		got := h.Percentile(p)
		if off := float64(got-want) / float64(want); off > 0.005 || off < -0.005 {
			t.Errorf("p%v = %v, want %v (%.3f%% off)", p, got, want, off*100)
		}
	}
	var sum time.Duration
	for _, v := range vals {
		sum += v
	}
	if mean := sum / time.Duration(len(vals)); h.Mean() != mean {
		t.Errorf("mean %v, want %v", h.Mean(), mean)
	}
}

func TestHistogramSmallAndMerge(t *testing.T) {
	var a, b Histogram
	for _, d := range []time.Duration{5, 1, 3} {
		a.Record(d)
	}
	for _, d := range []time.Duration{2, 4, -7} {
		b.Record(d)
	}
	a.Merge(&b)
	if a.Count() != 6 || a.Min() != 0 || a.Max() != 5 {
		t.Fatalf("merged: count %d min %v max %v", a.Count(), a.Min(), a.Max())
	}
	// Small values have a bucket each, so percentiles are exact: 0 1 2 3 4 5.
	for p, want := range map[float64]time.Duration{1: 0, 50: 2, 51: 3, 100: 5} {
		if got := a.Percentile(p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	var c Histogram
	c.Record(time.Second)
	if c.Percentile(50) != time.Second || c.Percentile(99) != time.Second {
		t.Errorf("one value: p50 %v p99 %v, want 1s (clamped to min and max)", c.Percentile(50), c.Percentile(99))
	}
}
