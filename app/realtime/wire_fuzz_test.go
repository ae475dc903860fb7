package realtime

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/todo-app/todo/models"
)

// FuzzBusPayload feeds arbitrary bytes to the hub as PostgreSQL NOTIFY
// payloads (anyone who can connect to the database can send them). The hub
// must not panic or stall; every message a connection then receives must be
// a well-formed message, and only the connections of the user the payload
// names may receive anything.
func FuzzBusPayload(f *testing.F) {
	full, _ := json.Marshal(wireFromEvent(&event{user: "u1", typ: TypeTaskUpdated, taskID: 7, version: 3,
		data: json.RawMessage(`{"id":7,"version":3}`), at: time.UnixMilli(1764700000000)}, true))
	for _, seed := range []string{
		string(full),
		`{"k":"event","u":"u1","t":"task.created","id":7,"v":1}`,
		`{"k":"event","u":"u1","t":"task.deleted","id":7}`,
		`{"k":"event","u":"u2","t":"task.completed","id":8,"v":2,"d":{"id":8}}`,
		`{"k":"event","u":"u1","t":"custom","d":[1,2,3],"at":-62135596800001}`,
		`{"k":"event","u":"u1","t":"task.updated","id":-1,"v":-5,"at":9223372036854775807,"d":null}`,
		`{"k":"session","s":"s1"}`,
		`{"k":"session","s":""}`,
		`{"k":"future","u":"u1"}`,
		`{"k":"event","u":"u1","t":"\u2028<\/script>","id":1,"v":1,"d":"\ud800"}`,
		`{"k":1}`, `null`, `[]`, `{`, "", "\xff",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		h := New(Options{
			Task: func(_ context.Context, user string, id int64) (*models.Task, error) {
				if id <= 0 {
					return nil, models.ErrNotFound
				}
				return task(id, user, 9, false), nil
			},
			Stats: func(_ context.Context, user string) (any, error) { return map[string]string{"user": user}, nil },
		})
		conns := map[string]*client{}
		for _, user := range []string{"u1", "u2"} {
			c, err := h.register(Subscriber{UserID: user, SessionID: "s" + user[1:]}, func() {})
			if err != nil {
				t.Fatal(err)
			}
			<-c.queue // hello
			conns[user] = c
		}
		h.receive(payload)
		waitIdle(t, h)

		var w wireMessage
		decoded := json.Unmarshal(payload, &w) == nil
		for user, c := range conns {
			for len(c.queue) > 0 {
				raw := c.frame(nil, <-c.queue)
				var m Message
				if err := json.Unmarshal(raw, &m); err != nil || m.Type == "" || m.At == "" || !json.Valid(m.Data) {
					t.Fatalf("payload %q made the frame %q (%v)", payload, raw, err)
				}
				if !decoded || w.Kind != wireEvent || w.User != user {
					t.Fatalf("payload %q reached %s's connection as %q", payload, user, raw)
				}
			}
			h.unregister(c)
		}
	})
}

// waitIdle waits until no room has events being processed.
func waitIdle(t *testing.T, h *Hub) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.mu.Lock()
		busy := false
		for _, r := range h.rooms {
			busy = busy || r.running
		}
		h.mu.Unlock()
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the hub is still processing after 5s")
		}
		time.Sleep(50 * time.Microsecond)
	}
}
