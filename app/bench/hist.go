package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is log-linear, as HDR histograms are: values below
// 2^histSubBits nanoseconds each have a bucket of their own, and every
// further power of two is split into 2^(histSubBits-1) equal buckets. The
// middle of a value's bucket is within 1/2^histSubBits (0.4 %) of it, whatever
// its size, and the whole range of durations fits in a fixed array.
const (
	histSubBits  = 8
	histSubCount = 1 << histSubBits
	histHalf     = histSubCount / 2
	histBuckets  = histSubCount + (64-histSubBits)*histHalf
)

// Histogram records durations. Record may be called from many goroutines at
// once; its memory is fixed (about 60 KiB) however many values it holds.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
	min    atomic.Uint64 // stored as ^value so that zero means "none yet"
}

func histBucket(v uint64) int {
	if v < histSubCount {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits // >= 1
	return histSubCount + (shift-1)*histHalf + int(v>>uint(shift)) - histHalf
}

// histValue is the middle of bucket i, the value reported for anything in it.
func histValue(i int) uint64 {
	if i < histSubCount {
		return uint64(i)
	}
	j := i - histSubCount
	shift := uint(j/histHalf + 1)
	low := uint64(j%histHalf+histHalf) << shift
	return low + (uint64(1)<<shift)/2
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h.counts[histBucket(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		cur := h.max.Load()
		if v <= cur || h.max.CompareAndSwap(cur, v) {
			break
		}
	}
	for {
		cur := h.min.Load()
		if (cur != 0 && v >= ^cur) || h.min.CompareAndSwap(cur, ^v) {
			break
		}
	}
}

// Count is how many durations were recorded.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Max is the largest duration recorded, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Min is the smallest duration recorded, exactly (0 when empty).
func (h *Histogram) Min() time.Duration {
	m := h.min.Load()
	if m == 0 {
		return 0
	}
	return time.Duration(^m)
}

// Mean is the average duration (0 when empty).
func (h *Histogram) Mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Percentile is the smallest recorded value that at least p percent of the
// values do not exceed (nearest rank), to within the bucket precision and
// never above Max. p is in (0, 100]; 0 when nothing was recorded.
func (h *Histogram) Percentile(p float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			v := histValue(i)
			if m := h.max.Load(); v > m {
				v = m
			}
			if m := h.Min(); time.Duration(v) < m {
				v = uint64(m)
			}
			return time.Duration(v)
		}
	}
	return h.Max()
}

// Merge adds every value of o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	h.sum.Add(o.sum.Load())
	if m := o.max.Load(); m > h.max.Load() {
		h.max.Store(m)
	}
	if om := o.min.Load(); om != 0 {
		if hm := h.min.Load(); hm == 0 || ^om < ^hm {
			h.min.Store(om)
		}
	}
}
