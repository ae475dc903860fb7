package routes

import (
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/todo-app/todo/models"
)

// TaskHandlers serves /api/tasks. Every query is scoped to the signed-in
// user: another user's task answers exactly as a missing one does (404).
type TaskHandlers struct {
	store  *models.Store
	events TaskEvents
	// now is the clock of the due filters.
	now func() time.Time
}

// NewTaskHandlers builds the task endpoints on store. Every committed change
// is told to events (see TaskEvents); nil discards them.
func NewTaskHandlers(store *models.Store, events TaskEvents) *TaskHandlers {
	if events == nil {
		events = NoTaskEvents{}
	}
	return &TaskHandlers{store: store, events: events, now: time.Now}
}

// RegisterTasks mounts the task endpoints under api (the /api group), each
// behind RequireUser. /api/tasks and /api/tasks/ both list and create.
// Changes are published to events when given (the realtime hub).
func RegisterTasks(api fiber.Router, store *models.Store, events ...TaskEvents) {
	var ev TaskEvents
	if len(events) > 0 {
		ev = events[0]
	}
	NewTaskHandlers(store, ev).Register(api)
}

// Register mounts h's endpoints under api.
func (h *TaskHandlers) Register(api fiber.Router) {
	for _, p := range []string{"/tasks", "/tasks/"} {
		api.Get(p, RequireUser, h.list)
		api.Post(p, RequireUser, h.create)
	}
	api.Get("/tasks/:id", RequireUser, h.get)
	api.Put("/tasks/:id", RequireUser, h.update)
	api.Patch("/tasks/:id", RequireUser, h.update)
	api.Delete("/tasks/:id", RequireUser, h.delete)
	api.Patch("/tasks/:id/complete", RequireUser, h.complete)
}

var (
	errTaskNotFound = NewProblem(fiber.StatusNotFound, "No such task.")
	errTaskID       = ValidationProblem(FieldError{Field: "id", Message: "must be a positive integer"})
	errTaskChanged  = NewProblem(fiber.StatusPreconditionFailed,
		"The task has changed since the version named in If-Match; nothing was changed. Fetch it again and retry.")
)

func (h *TaskHandlers) list(c *fiber.Ctx) error {
	values := url.Values{}
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		values.Add(string(k), string(v))
	})
	q, errs := parseTaskListQuery(values, h.now())
	if len(errs) > 0 {
		return ValidationProblem(errs...)
	}
	tasks, total, err := h.store.ListTasks(c.UserContext(), CurrentUser(c).ID, q.Filter)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	return sendJSON(c, appendTaskList(make([]byte, 0, 64+320*len(tasks)), tasks, total, q.Limit, q.Offset))
}

// appendTaskList writes the list response, {"tasks":[...],"total":N,
// "limit":N,"offset":N}, without reflection (see models.Task.AppendJSON).
func appendTaskList(b []byte, tasks []models.Task, total int64, limit int, offset int64) []byte {
	b = append(b, `{"tasks":[`...)
	for i := range tasks {
		if i > 0 {
			b = append(b, ',')
		}
		b = tasks[i].AppendJSON(b)
	}
	b = append(b, `],"total":`...)
	b = strconv.AppendInt(b, total, 10)
	b = append(b, `,"limit":`...)
	b = strconv.AppendInt(b, int64(limit), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, offset, 10)
	return append(b, '}')
}

// sendJSON sends an encoded JSON body as c.JSON would.
func sendJSON(c *fiber.Ctx, body []byte) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(body)
}

func (h *TaskHandlers) create(c *fiber.Ctx) error {
	f, err := decodeJSONObject(c)
	if err != nil {
		return err
	}
	ch, errs := parseTaskBody(f, true)
	if len(errs) > 0 {
		return ValidationProblem(errs...)
	}
	t := &models.Task{UserID: CurrentUser(c).ID, Priority: models.PriorityMedium}
	ch.ApplyTo(t, models.Now())
	if err := h.store.CreateTask(c.UserContext(), t); err != nil {
		return err
	}
	h.events.TaskChanged(c.UserContext(), t.UserID, EventTaskCreated, t)
	c.Location("/api/tasks/" + strconv.FormatInt(t.ID, 10))
	return sendTask(c.Status(fiber.StatusCreated), t)
}

func (h *TaskHandlers) get(c *fiber.Ctx) error {
	id, ok := parseTaskID(c.Params("id"))
	if !ok {
		return errTaskID
	}
	t, err := h.store.TaskByID(c.UserContext(), CurrentUser(c).ID, id)
	if err != nil {
		return taskError(err)
	}
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && noneMatch(inm, t) {
		c.Set(fiber.HeaderETag, taskETag(t))
		c.Set(fiber.HeaderCacheControl, "private, no-cache")
		return c.SendStatus(fiber.StatusNotModified)
	}
	return sendTask(c, t)
}

// update serves PUT and PATCH alike: a partial update of the fields present.
// The body is checked before the task is looked up, so a 422 says nothing
// about whether the task exists.
func (h *TaskHandlers) update(c *fiber.Ctx) error {
	id, ok := parseTaskID(c.Params("id"))
	if !ok {
		return errTaskID
	}
	f, err := decodeJSONObject(c)
	if err != nil {
		return err
	}
	ch, errs := parseTaskBody(f, false)
	if len(errs) > 0 {
		return ValidationProblem(errs...)
	}
	res, err := h.store.UpdateTask(c.UserContext(), CurrentUser(c).ID, id, ch, ifMatchVersions(c.Get(fiber.HeaderIfMatch), id))
	if err != nil {
		return taskError(err)
	}
	h.publish(c, res)
	return sendTask(c, res.Task)
}

// complete needs no body; any body is ignored.
func (h *TaskHandlers) complete(c *fiber.Ctx) error {
	id, ok := parseTaskID(c.Params("id"))
	if !ok {
		return errTaskID
	}
	res, err := h.store.CompleteTask(c.UserContext(), CurrentUser(c).ID, id, ifMatchVersions(c.Get(fiber.HeaderIfMatch), id))
	if err != nil {
		return taskError(err)
	}
	h.publish(c, res)
	return sendTask(c, res.Task)
}

func (h *TaskHandlers) delete(c *fiber.Ctx) error {
	id, ok := parseTaskID(c.Params("id"))
	if !ok {
		return errTaskID
	}
	userID := CurrentUser(c).ID
	err := h.store.DeleteTask(c.UserContext(), userID, id, ifMatchVersions(c.Get(fiber.HeaderIfMatch), id))
	if err != nil {
		return taskError(err)
	}
	h.events.TaskDeleted(c.UserContext(), userID, id)
	return c.SendStatus(fiber.StatusNoContent)
}

// publish tells events about an update that changed something: completed
// when the status went from false to true, updated otherwise.
func (h *TaskHandlers) publish(c *fiber.Ctx, res models.TaskUpdate) {
	switch {
	case !res.Changed:
	case res.Completed:
		h.events.TaskChanged(c.UserContext(), res.Task.UserID, EventTaskCompleted, res.Task)
	default:
		h.events.TaskChanged(c.UserContext(), res.Task.UserID, EventTaskUpdated, res.Task)
	}
}

// sendTask answers with one task and its ETag. Responses may be kept by the
// user's own client but must be revalidated (If-None-Match) before reuse.
func sendTask(c *fiber.Ctx, t *models.Task) error {
	c.Set(fiber.HeaderETag, taskETag(t))
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	return sendJSON(c, t.AppendJSON(make([]byte, 0, 512)))
}

func taskError(err error) error {
	switch {
	case errors.Is(err, models.ErrNotFound):
		return errTaskNotFound
	case errors.Is(err, models.ErrVersionMismatch):
		return errTaskChanged
	}
	return err
}
