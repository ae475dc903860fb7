// Package routes turns HTTP requests into calls on the application and the
// results back into JSON responses. It knows nothing of SQL.
package routes

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/todo-app/todo/app/auth"
)

// ProblemContentType is the media type of every error body (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem detail, the body of every error response.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError names one invalid input field and why it was refused.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

// NewProblem builds a problem for status with a human-readable detail.
func NewProblem(status int, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

// ValidationProblem is the 422 answer naming every invalid field.
func ValidationProblem(errs ...FieldError) *Problem {
	p := NewProblem(fiber.StatusUnprocessableEntity, "The request contains invalid fields.")
	p.Errors = errs
	return p
}

// WriteProblem sends p as the response.
func WriteProblem(c *fiber.Ctx, p *Problem) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	if err := c.Status(p.Status).JSON(p); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ProblemContentType)
	return nil
}

var errHashingBusy = NewProblem(fiber.StatusServiceUnavailable,
	"Too many sign-ins are being checked; retry after the number of seconds in Retry-After.")

// ErrorHandler maps every error a handler returns to a problem response.
// Errors the handlers did not anticipate become a 500 that carries only the
// request id, while the log line keeps the cause; unavailable reports errors
// that mean the database cannot be reached, which become 503.
func ErrorHandler(log *slog.Logger, unavailable func(error) bool) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		requestID := RequestID(c)
		var problem *Problem
		var fiberErr *fiber.Error
		switch {
		case errors.As(err, &problem):
		case errors.As(err, &fiberErr):
			problem = fiberProblem(fiberErr)
		case errors.Is(err, auth.ErrBusy):
			// The server protecting itself from a login flood, not a failure:
			// answered like overload, and not logged as an error.
			c.Set(fiber.HeaderRetryAfter, "1")
			return WriteProblem(c, errHashingBusy)
		case unavailable != nil && unavailable(err):
			problem = NewProblem(fiber.StatusServiceUnavailable, "The database is unavailable; try again shortly.")
			c.Set(fiber.HeaderRetryAfter, "5")
		default:
			problem = NewProblem(fiber.StatusInternalServerError, "An internal error occurred. Quote request id "+requestID+" when reporting it.")
		}
		if problem.Status >= 500 {
			log.Error("request failed",
				"request_id", requestID,
				"method", c.Method(),
				"path", c.Path(),
				"status", problem.Status,
				"error", err.Error())
		}
		return WriteProblem(c, problem)
	}
}

// fiberProblem rewrites Fiber's own errors, whose messages are written for
// developers (or leak internals such as body sizes), into stable details.
func fiberProblem(e *fiber.Error) *Problem {
	switch e.Code {
	case fiber.StatusNotFound:
		return NewProblem(e.Code, "No resource at this path.")
	case fiber.StatusMethodNotAllowed:
		return NewProblem(e.Code, "This method is not allowed on this path.")
	case fiber.StatusRequestEntityTooLarge:
		return NewProblem(e.Code, "The request body is larger than 1 MiB.")
	case fiber.StatusRequestHeaderFieldsTooLarge:
		return NewProblem(e.Code, "The request headers are too large.")
	case fiber.StatusInternalServerError:
		return NewProblem(e.Code, "An internal error occurred.")
	}
	if e.Code < 400 || e.Code > 599 {
		return NewProblem(fiber.StatusInternalServerError, "An internal error occurred.")
	}
	return NewProblem(e.Code, e.Message)
}

// NotFound answers every path no route claimed.
func NotFound(c *fiber.Ctx) error {
	return fiber.ErrNotFound
}

// RequestID is the id the request id middleware gave this request. Errors
// raised before any middleware ran (an oversized body, a malformed request
// line) get a fresh one here, so every response still carries an id.
func RequestID(c *fiber.Ctx) string {
	if id, ok := c.Locals("requestid").(string); ok && id != "" {
		return id
	}
	id := utils.UUIDv4()
	c.Locals("requestid", id)
	c.Set(fiber.HeaderXRequestID, id)
	return id
}
