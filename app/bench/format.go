package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is everything one `todo bench` invocation measured; with --json it
// is printed as one JSON document.
type Result struct {
	HTTP     *Report            `json:"http,omitempty"`
	Baseline *Report            `json:"baseline,omitempty"`
	Ratios   map[string]float64 `json:"ratio_to_baseline,omitempty"`
	WS       *WSReport          `json:"ws,omitempty"`
}

// WriteJSON prints r as one indented JSON document.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText prints r as tables for people.
func (r *Result) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	if r.HTTP != nil {
		writeReport(ew, r.HTTP)
	}
	if r.Baseline != nil {
		if r.HTTP != nil {
			ew.printf("\n")
		}
		writeReport(ew, r.Baseline)
	}
	if len(r.Ratios) > 0 && r.HTTP != nil {
		ew.printf("\nreq/s relative to the baseline (%.0f req/s):\n", r.Baseline.Total.RPS)
		tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		for _, o := range append(r.HTTP.Ops, r.HTTP.Total) {
			fmt.Fprintf(tw, "  %s\t%.3f\n", o.Op, r.Ratios[o.Op])
		}
		_ = tw.Flush()
		if len(r.HTTP.Ops) > 1 {
			ew.printf("  (in a mix each operation gets a share of the clients; compare the total)\n")
		}
	}
	if r.WS != nil {
		writeWS(ew, r.WS)
	}
	return ew.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { _, _ = fmt.Fprintf(e, format, args...) }

// fmtMs shows milliseconds with a precision that suits their size.
func fmtMs(v float64) string {
	switch {
	case v < 1:
		return fmt.Sprintf("%.0fµs", v*1000)
	case v < 10:
		return fmt.Sprintf("%.2fms", v)
	case v < 1000:
		return fmt.Sprintf("%.1fms", v)
	}
	return fmt.Sprintf("%.2fs", v/1000)
}

func fmtBytes(b int64) string {
	neg := b < 0
	if neg {
		b = -b
	}
	var s string
	switch {
	case b >= 1<<30:
		s = fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		s = fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		s = fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	default:
		s = fmt.Sprintf("%d B", b)
	}
	if neg {
		return "-" + s
	}
	return s
}

// errorSummary is "0" or "404×3, timeout×1".
func errorSummary(o OpResult) string {
	if o.Errors == 0 {
		return "0"
	}
	var parts []string
	for _, k := range sortedKeys(o.ByStatus) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, o.ByStatus[k]))
	}
	for _, k := range sortedKeys(o.Transport) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, o.Transport[k]))
	}
	return fmt.Sprintf("%d (%s)", o.Errors, strings.Join(parts, ", "))
}

func writeReport(w *errWriter, r *Report) {
	if r.Mix == string(OpBaseline) {
		w.printf("baseline: %s, %d clients, %.1fs measured after %.1fs warm-up\n",
			r.Target, r.Concurrency, r.Duration, r.Warmup)
	} else {
		w.printf("target: %s, op %s, %d users × %d tasks, %d clients, %.1fs measured after %.1fs warm-up (set-up took %.1fs)\n",
			r.Target, r.Mix, r.Users, r.Tasks, r.Concurrency, r.Duration, r.Warmup, r.SetupTime)
	}
	if r.Interrupted {
		w.printf("interrupted: the numbers cover the part that ran\n")
	}
	if ol := r.OpenLoop; ol != nil {
		w.printf("open loop at %.0f req/s: %d due, %d sent, %d dropped by the client (all %d clients busy for over %s); latency counts from the scheduled time\n",
			ol.Rate, ol.Offered, ol.Started, ol.Dropped, r.Concurrency, fmtMs(ol.SlackMs))
	}
	rows := append(append([]OpResult{}, r.Ops...), r.Total)
	width := 0
	for _, o := range rows {
		width = max(width, len(o.Op))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\trequests\treq/s\tmean\tp50\tp95\tp99\tmax\t\n", width, "op")
	for _, o := range rows {
		fmt.Fprintf(tw, "%-*s\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t\n", width, o.Op, o.Requests, o.RPS,
			fmtMs(o.MeanMs), fmtMs(o.P50Ms), fmtMs(o.P95Ms), fmtMs(o.P99Ms), fmtMs(o.MaxMs))
	}
	_ = tw.Flush()
	w.printf("errors:")
	if r.Total.Errors == 0 {
		w.printf(" none\n")
	} else {
		w.printf("\n")
		for _, o := range append(r.Ops, r.Total) {
			if o.Errors > 0 {
				w.printf("  %s: %s\n", o.Op, errorSummary(o))
			}
		}
		if r.Total.ByStatus["429"] > 0 {
			w.printf("  429 means the server's rate limit: run it with ratelimit.enabled=false for a benchmark\n")
		}
	}
	if r.Mix != string(OpBaseline) {
		writeServerMem(w, r.Server, r.MemoryNote)
	}
	if len(r.Samples) > 0 {
		writeSamples(w, r.Samples, r.OpenLoop != nil)
	}
}

// writeSamples prints the series of samples as a table, with the request
// rate of each interval.
func writeSamples(w *errWriter, samples []Sample, dropped bool) {
	w.printf("over time (since the measured time began; counts are cumulative):\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "t\trss\tpeak\trequests\treq/s\terrors\t5xx\t")
	if dropped {
		fmt.Fprintf(tw, "dropped\t")
	}
	fmt.Fprintf(tw, "\n")
	var errs []string
	for i, s := range samples {
		rss, peak := "-", "-"
		if s.RSS > 0 {
			rss, peak = fmtBytes(int64(s.RSS)), fmtBytes(int64(s.Peak))
		}
		if s.Error != "" && (len(errs) == 0 || errs[len(errs)-1] != s.Error) {
			errs = append(errs, s.Error)
		}
		rate := "-"
		if i > 0 {
			if dt := s.Seconds - samples[i-1].Seconds; dt > 0 {
				rate = fmt.Sprintf("%.0f", float64(s.Requests-samples[i-1].Requests)/dt)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t", fmtSeconds(s.Seconds), rss, peak, s.Requests, rate, s.Errors, s.Status5xx)
		if dropped {
			fmt.Fprintf(tw, "%d\t", s.Dropped)
		}
		fmt.Fprintf(tw, "\n")
	}
	_ = tw.Flush()
	for _, e := range errs {
		w.printf("  rss not read: %s\n", e)
	}
}

// fmtSeconds shows a time since the start as 500ms, 1.5s, 45s or 12m30s:
// to a tenth of a second below 10s, to the second above, where a sampler
// that woke a little late would only add noise.
func fmtSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func writeServerMem(w *errWriter, m *ServerMem, note string) {
	if m == nil {
		w.printf("rss: %s\n", note)
		return
	}
	w.printf("rss (pid %d): %s before, %s after, peak %s\n", m.PID,
		fmtBytes(int64(m.Before.RSS)), fmtBytes(int64(m.After.RSS)), fmtBytes(int64(m.After.Peak)))
}

func writeWS(w *errWriter, r *WSReport) {
	w.printf("target: %s, %d sockets over %d users\n", r.Target, r.Conns, r.Users)
	if r.Interrupted {
		w.printf("interrupted: the numbers cover the part that ran\n")
	}
	w.printf("opened: %d of %d in %.2fs (every hello received)", r.Opened, r.Conns, r.OpenSeconds)
	if len(r.OpenFailures) > 0 {
		var parts []string
		for _, k := range sortedKeys(r.OpenFailures) {
			parts = append(parts, fmt.Sprintf("%s×%d", k, r.OpenFailures[k]))
		}
		w.printf("; failed: %s", strings.Join(parts, ", "))
	}
	w.printf("\n")
	if r.Server != nil {
		writeServerMem(w, r.Server, "")
		w.printf("server memory per socket: %s (RSS growth / sockets)\n", fmtBytes(r.ServerPerConn))
	} else {
		w.printf("server memory per socket: %s\n", r.MemoryNote)
	}
	w.printf("client memory per socket: %s (this process's Go heap and stacks)\n", fmtBytes(int64(r.ClientPerConn)))
	if r.Idle || r.Post == nil {
		return
	}
	w.printf("changes: %d created in %.1fs at %.0f/s asked (%.1f/s sent)", r.Changes, r.Duration, r.Rate, r.Post.RPS)
	if r.Skipped > 0 {
		w.printf(", %d skipped (too many requests in flight)", r.Skipped)
	}
	w.printf("; POST p50 %s, p99 %s\n", fmtMs(r.Post.P50Ms), fmtMs(r.Post.P99Ms))
	if r.Post.Errors > 0 {
		w.printf("change errors: %s\n", errorSummary(*r.Post))
	}
	w.printf("deliveries: %d expected, %d delivered, %d missed (not within the timeout)\n", r.Expected, r.Delivered, r.Missed)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "delay from the POST\tcount\tp50\tp99\tmax\t\n")
	for _, row := range []struct {
		name string
		l    *Latency
	}{{"to each socket", r.Delivery}, {"to all the user's sockets", r.AllSockets}} {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t\n", row.name, row.l.Count, fmtMs(row.l.P50Ms), fmtMs(row.l.P99Ms), fmtMs(row.l.MaxMs))
	}
	_ = tw.Flush()
	if len(r.Closed) > 0 {
		var parts []string
		for _, k := range sortedKeys(r.Closed) {
			parts = append(parts, fmt.Sprintf("%s×%d", k, r.Closed[k]))
		}
		w.printf("sockets closed by the server during the run (close code): %s\n", strings.Join(parts, ", "))
	}
}
