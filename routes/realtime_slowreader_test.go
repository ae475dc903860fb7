package routes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/realtime"
	"github.com/todo-app/todo/app/server/servertest"
	"github.com/todo-app/todo/models"
)

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC() // the first one's finalizers may free more
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// slowReaderTask is a task as large as the API accepts: a 200-character
// title and a 1000-character description, mostly characters JSON escapes
// to six bytes, so each event is about 7 KB on the wire.
func slowReaderTask(userID string, i int) *models.Task {
	desc := strings.Repeat("<&>", 333) + "."
	now := models.Now()
	return &models.Task{
		ID:          int64(i%slowReaderTasks + 1),
		UserID:      userID,
		Title:       strings.Repeat("<", 190) + strings.Repeat("é", 10),
		Description: &desc,
		Priority:    models.PriorityMedium,
		Version:     i/slowReaderTasks + 1,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
}

const (
	slowReaderTasks  = 500  // distinct tasks the events are about
	slowReaderEvents = 2000 // events published, each about 7 KB
	slowReaderBatch  = 40   // events between two checks of the reading sockets
	slowReaderSlow   = 2    // sockets that never read
)

// A WebSocket client that never reads cannot make the server hold on to
// the events it does not take: thousands of large task events for its user
// go out while it sits on a tiny receive buffer. The server closes it (its
// queue overflows while a write is stuck, and the write times out), the
// user's reading sockets get every event in order, and the server's heap
// grows by at most what the full send queues hold, whatever the number of
// events.
//
// The events go through Hub.TaskChanged, the call the task handlers make
// after a commit, rather than through HTTP, so that thousands of them fit in
// a few seconds under the race detector. SQLite only: on PostgreSQL the same
// hub queues are fed from LISTEN instead, and the events this large travel
// as references (TestRealtimeAcrossInstances); the bounded part, the queues
// and the stuck write, is the same code.
//
// The test measures the heap of this process, which is the server's plus
// the test's own clients; it must not run beside parallel tests.
func TestRealtimeSlowReaderMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes thousands of events")
	}
	const writeTimeout = 2 * time.Second
	inst := servertest.StartInstance(t, servertest.NewDatabaseURL(t, database.SQLite), servertest.InstanceOptions{
		Realtime: func(o *realtime.Options) { o.WriteTimeout = writeTimeout },
	})
	u := rtSignUp(t, inst.Server, "never-reads@example.com")
	host := strings.TrimPrefix(inst.URL, "http://")
	var slow []net.Conn
	for range slowReaderSlow {
		slow = append(slow, rawSlowClient(t, inst.Server, "GET /api/ws HTTP/1.1\r\nHost: "+host+"\r\nAuthorization: Bearer "+u.Token+
			"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"))
	}
	readers := []*rtMessages{rtDial(t, inst.Server, "reading ws (token)", u.bearer()),
		rtDial(t, inst.Server, "reading ws (cookie)", u.browser())}
	for _, m := range readers {
		rtHello(t, m, u.ID)
	}
	waitConnections(t, inst, u.ID, slowReaderSlow+len(readers), 10*time.Second)

	ctx := context.Background()
	// One event first, so that encoders, pools and buffers on every path
	// exist before the baseline is taken.
	inst.Hub.TaskChanged(ctx, u.ID, realtime.TypeTaskCreated, slowReaderTask(u.ID, 0))
	for _, m := range readers {
		m.skipStats()
	}
	base := heapInUse()
	eventSize := len(mustJSON(t, slowReaderTask(u.ID, slowReaderEvents)))
	// What the server may hold for the slow sockets: full queues of distinct
	// events each, plus the one being written, and a fixed allowance for
	// the runtime and the connections' buffers; the events published are
	// many times more.
	bound := uint64(slowReaderSlow*(realtime.DefaultQueueSize+1)*eventSize) + 2<<20
	total := uint64(slowReaderEvents * eventSize)
	t.Logf("events of %d bytes: %.1f MiB published, heap growth allowed %.1f MiB (baseline %.1f MiB in use)",
		eventSize, mib(total), mib(bound), mib(base))
	if total < 4*bound {
		t.Fatalf("the test publishes too little (%d bytes) to tell a bound of %d from growth", total, bound)
	}

	var overflowAt, closedAt time.Time
	var overflows int64
	var peak uint64
	checkHeap := func(events int, why string) {
		t.Helper()
		used := heapInUse()
		growth := used - min(used, base)
		peak = max(peak, growth)
		t.Logf("after %d events (%s): heap %+.2f MiB, %+v", events, why, mib(growth), inst.Hub.Stats())
		if growth > bound {
			t.Fatalf("after %d events the heap grew by %.1f MiB, over the %.1f MiB the queues account for",
				events, mib(growth), mib(bound))
		}
	}
	start := time.Now()
	for i := 1; i < slowReaderEvents; i += slowReaderBatch {
		n := min(slowReaderBatch, slowReaderEvents-i)
		for j := i; j < i+n; j++ {
			typ := realtime.TypeTaskUpdated
			if j < slowReaderTasks {
				typ = realtime.TypeTaskCreated
			}
			inst.Hub.TaskChanged(ctx, u.ID, typ, slowReaderTask(u.ID, j))
		}
		// The reading sockets keep up and get every event, in order.
		for _, m := range readers {
			for j := i; j < i+n; j++ {
				msg := m.skipStats()
				// The task's JSON starts with its id and holds its version;
				// matching bytes spares a second decoding of 7 KB.
				id, version := j%slowReaderTasks+1, j/slowReaderTasks+1
				if !bytes.HasPrefix(msg.Data, fmt.Appendf(nil, `{"id":%d,`, id)) ||
					!bytes.Contains(msg.Data, fmt.Appendf(nil, `"version":%d,`, version)) {
					t.Fatalf("%s: event %d is %s %.60s, want task %d version %d", m.name, j, msg.Type, msg.Data, id, version)
				}
			}
		}
		st := inst.Hub.Stats()
		if st.MaxQueued > realtime.DefaultQueueSize {
			t.Fatalf("a send queue holds %d messages, over its limit of %d", st.MaxQueued, realtime.DefaultQueueSize)
		}
		if closedAt.IsZero() && inst.Hub.Connections(u.ID) == len(readers) {
			closedAt = time.Now()
		}
		switch {
		case st.SlowDisconnects > overflows:
			// The worst moment: full queues, writes stuck.
			if overflowAt.IsZero() {
				overflowAt = time.Now()
			}
			overflows = st.SlowDisconnects
			checkHeap(i+n, "a queue overflowed")
		case (i-1)%(10*slowReaderBatch) == 0 || i+n >= slowReaderEvents:
			checkHeap(i+n, "checkpoint")
		}
	}
	t.Logf("%d events in %s; peak heap growth %.1f MiB; %+v", slowReaderEvents, time.Since(start).Round(time.Millisecond),
		mib(peak), inst.Hub.Stats())

	// The slow sockets are gone: closed for overflowing their queue, which
	// takes effect when the stuck write times out.
	if overflowAt.IsZero() {
		t.Fatalf("no slow socket overflowed its queue: %+v", inst.Hub.Stats())
	}
	limit := writeTimeout + 3*time.Second
	if closedAt.IsZero() {
		waitConnections(t, inst, u.ID, len(readers), time.Until(overflowAt.Add(limit)))
		closedAt = time.Now()
	}
	t.Logf("slow sockets closed within %s of the first overflow (write timeout %s)",
		closedAt.Sub(overflowAt).Round(time.Millisecond), writeTimeout)
	if closedAt.Sub(overflowAt) > limit {
		t.Errorf("the slow sockets were closed %s after their queues overflowed, over %s", closedAt.Sub(overflowAt), limit)
	}
	// On the wire too: the server's end of each slow socket is closed. (Its
	// kernel still holds the megabytes it had accepted for the peer, in an
	// orphaned socket that it drops later; reading them from this side
	// crawls through a window of a few KB, so the test asks the kernel.)
	for i, c := range slow {
		state, ok := tcpState(t, c.RemoteAddr(), c.LocalAddr())
		if !ok {
			t.Logf("slow socket %d: the server's end is gone", i)
			continue
		}
		if state == tcpEstablished {
			t.Errorf("slow socket %d: the server's end is still established", i)
		}
	}
	for _, m := range readers {
		if m.closed() {
			t.Fatalf("%s was closed", m.name)
		}
	}
	if err := inst.Hub.Publish(ctx, u.ID, "test.after", 1); err != nil {
		t.Fatal(err)
	}
	for _, m := range readers {
		if msg := m.skipStats(); msg.Type != "test.after" {
			t.Fatalf("%s: got %s, want test.after", m.name, msg.Type)
		}
	}
	if used := heapInUse(); used > base+bound {
		t.Errorf("with the slow sockets gone the heap is still %.1f MiB above its baseline", mib(used-base))
	}
}

const tcpEstablished = "01"

// tcpState is the state (hex, as /proc/net/tcp shows it) of the IPv4 socket
// with the local and remote addresses given; ok is false when there is no
// such socket. The test is skipped where /proc/net/tcp cannot be read.
func tcpState(t *testing.T, local, remote net.Addr) (string, bool) {
	t.Helper()
	raw, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skipf("cannot see socket states: %v", err)
	}
	hex := func(a net.Addr) string {
		ta := a.(*net.TCPAddr)
		ip := ta.IP.To4()
		// Little-endian address, big-endian port, as the kernel prints them.
		return fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], ta.Port)
	}
	l, r := hex(local), hex(remote)
	for _, line := range strings.Split(string(raw), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == l && f[2] == r {
			return f[3], true
		}
	}
	return "", false
}

func waitConnections(t *testing.T, inst *servertest.Instance, userID string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for inst.Hub.Connections(userID) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections, want %d (%+v)", inst.Hub.Connections(userID), want, inst.Hub.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
