package models

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// taskJSONReflect is Task without its MarshalJSON: what encoding/json writes
// by reflection, the reference AppendJSON must match.
type taskJSONReflect Task

func TestTaskAppendJSONMatchesEncodingJSON(t *testing.T) {
	due := NewTime(time.Date(2026, 12, 3, 8, 30, 0, 123e6, time.UTC))
	desc, cat := "line 1\nline 2\t<b>&</b> \"quoted\" \\ \u2028\u2029 \x00\x1f\x7f é 漢字 😀", "work"
	empty := ""
	cases := []Task{
		{ID: 1, Title: "plain", Priority: 2, Version: 1, CreatedAt: due, UpdatedAt: due, UserID: "u1"},
		{ID: 1 << 53, Title: "all set", Description: &desc, Status: true, Category: &cat, Priority: 3,
			DueDate: &due, CompletedAt: &due, Version: 99, CreatedAt: due, UpdatedAt: due, UserID: "u\"2"},
		{ID: -1, Title: "invalid \xff\xfe utf-8 \xe2\x82", Description: &empty, Category: &empty},
		{Title: "\b\f\r\u0001 bad\u2029"},
	}
	for i, task := range cases {
		want, err := json.Marshal(taskJSONReflect(task))
		if err != nil {
			t.Fatal(err)
		}
		if got := task.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func FuzzTaskAppendJSON(f *testing.F) {
	f.Add("title", "description", "category")
	f.Add("<&>", "\u2028\x00", "\xff")
	f.Fuzz(func(t *testing.T, title, desc, cat string) {
		task := Task{ID: 7, Title: title, Description: &desc, Category: &cat, UserID: title}
		want, err := json.Marshal(taskJSONReflect(task))
		if err != nil {
			t.Fatal(err)
		}
		if got := task.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

func BenchmarkTaskJSON(b *testing.B) {
	desc, cat := "a description of moderate length for a task", "work"
	due := Now()
	task := Task{ID: 12345, Title: "Write the quarterly report", Description: &desc, Category: &cat, Priority: 2,
		DueDate: &due, Version: 3, CreatedAt: due, UpdatedAt: due, UserID: "k3j4h5g6f7d8s9a0"}
	b.Run("AppendJSON", func(b *testing.B) {
		buf := make([]byte, 0, 512)
		for b.Loop() {
			buf = task.AppendJSON(buf[:0])
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(taskJSONReflect(task)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
