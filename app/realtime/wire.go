package realtime

import (
	"encoding/json"
	"time"
)

// Kinds of bus messages.
const (
	wireEvent   = "event"
	wireSession = "session"
)

// wireMessage is a bus payload. An event carries the message data, or, when
// that would not fit in one notification, only the task's id (and version)
// for receivers to load it themselves. A session message closes that
// session's connections on every instance.
type wireMessage struct {
	Kind    string          `json:"k"`
	User    string          `json:"u,omitempty"`
	Type    string          `json:"t,omitempty"`
	TaskID  int64           `json:"id,omitempty"`
	Version int             `json:"v,omitempty"`
	At      int64           `json:"at,omitempty"` // Unix milliseconds
	Data    json.RawMessage `json:"d,omitempty"`
	Session string          `json:"s,omitempty"`
}

func wireFromEvent(ev *event, withData bool) *wireMessage {
	w := &wireMessage{Kind: wireEvent, User: ev.user, Type: ev.typ, TaskID: ev.taskID, At: ev.at.UnixMilli()}
	if ev.version != deletedVersion {
		w.Version = ev.version
	}
	if withData {
		w.Data = ev.data
	}
	return w
}

func (w *wireMessage) event() *event {
	ev := &event{user: w.User, typ: w.Type, taskID: w.TaskID, version: w.Version, at: time.UnixMilli(w.At)}
	if w.Type == TypeTaskDeleted && w.TaskID != 0 {
		ev.version = deletedVersion
	}
	if len(w.Data) > 0 {
		ev.data = w.Data
	}
	if w.At == 0 {
		ev.at = time.Now()
	}
	return ev
}
