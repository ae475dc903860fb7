package routes

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/todo-app/todo/models"
)

// taskListJSON is the list response.
type taskListJSON struct {
	Tasks  []models.Task `json:"tasks"`
	Total  int64         `json:"total"`
	Limit  int           `json:"limit"`
	Offset int64         `json:"offset"`
}

// The list body is written by hand; it must be what encoding/json writes
// for taskListJSON.
func TestAppendTaskListMatchesEncodingJSON(t *testing.T) {
	desc := "<script>\u2028"
	tasks := []models.Task{{ID: 1, Title: "a", Priority: 2, Version: 1}, {ID: 2, Title: "b \"c\"", Description: &desc}}
	for _, list := range [][]models.Task{nil, {}, tasks[:1], tasks} {
		want, err := json.Marshal(taskListJSON{Tasks: list, Total: 1234, Limit: 20, Offset: 40})
		if err != nil {
			t.Fatal(err)
		}
		if list == nil {
			// The handler always has a slice; nil would be null.
			continue
		}
		if got := appendTaskList(nil, list, 1234, 20, 40); !bytes.Equal(got, want) {
			t.Errorf("\n got %s\nwant %s", got, want)
		}
	}
}
