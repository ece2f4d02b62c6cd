package admin

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors of the control plane. Its HTTP face maps them to
// statuses in one place (admin/api's errorStatus).
var (
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrGone            = errors.New("gone")
	ErrInvalid         = errors.New("invalid")
	ErrUnavailable     = errors.New("unavailable")
	// ErrTimeout: the request body did not arrive in time (admin/api's
	// Options.BodyTimeout).
	ErrTimeout = errors.New("timeout")
)

// FieldError is invalid input in one named field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// RateLimitError means too many attempts; retry after the given time.
type RateLimitError struct{ RetryAfter time.Duration }

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many attempts; retry in %s", e.RetryAfter.Round(time.Second))
}

// conflictf returns an ErrConflict with a message.
func conflictf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConflict}, args...)...)
}

// notFoundf returns an ErrNotFound whose message is the whole sentence
// the API shows, such as `role "x" not found`.
func notFoundf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotFound}, args...)...)
}
