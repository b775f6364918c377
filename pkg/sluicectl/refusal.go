package sluicectl

import (
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ActionError says why the server refused an action, as one line for a
// person: "you cannot approve release-x7k2p: <the server's reason>".
// A refusal (403, 409) keeps only the server's reason, without the
// generic `pipelinejobs.sluice.dev "x" is forbidden:` it is wrapped in;
// anything else says what the command was doing, then the server's whole
// message (a 404 names the object, a 422 its fields).
func ActionError(verb, name string, err error) error {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return fmt.Errorf("cannot %s %s: %w", verb, name, err)
	}
	switch s := status.Status(); s.Reason {
	case metav1.StatusReasonForbidden, metav1.StatusReasonConflict:
		return &RefusalError{Verb: verb, Name: name, Cause: StatusCause(s), err: err}
	default:
		return fmt.Errorf("cannot %s %s: %w", verb, name, err)
	}
}

// RefusalError is the server's refusal of an action (a 403 or 409):
// what the user could not do and the server's reason. It wraps the
// server's Status, for its code.
type RefusalError struct {
	Verb, Name string
	// Cause is the server's reason, without the Status's generic prefix.
	Cause string
	err   error
}

func (r *RefusalError) Error() string {
	return fmt.Sprintf("you cannot %s %s: %s", r.Verb, r.Name, r.Cause)
}
func (r *RefusalError) Unwrap() error { return r.err }

// StatusCause is the reason a Status gives, without the prefix its
// constructor adds: `<resource> "<name>" is forbidden: ` for a 403,
// `Operation cannot be fulfilled on <resource> "<name>": ` for a 409.
func StatusCause(s metav1.Status) string {
	msg := s.Message
	if s.Details != nil && s.Details.Name != "" {
		quoted := fmt.Sprintf("%q", s.Details.Name)
		for _, sep := range []string{quoted + " is forbidden: ", quoted + ": "} {
			if _, cause, ok := strings.Cut(msg, sep); ok {
				return cause
			}
		}
	}
	return msg
}

// ErrorMessage is err as one line for a person: the server's own message
// for a refusal (a Kubernetes Status), never a Go stack trace or the raw
// JSON of the Status; what the caller was doing when it wraps the Status.
func ErrorMessage(err error) string {
	var status apierrors.APIStatus
	if r := new(RefusalError); errors.As(err, &r) {
		return OneLine(err.Error())
	}
	if errors.As(err, &status) {
		s := status.Status()
		msg := s.Message
		if msg == "" {
			msg = string(s.Reason)
		}
		// Wrapped errors add what the command was doing.
		if outer := err.Error(); outer != msg && strings.HasSuffix(outer, msg) {
			msg = outer
		}
		return OneLine(msg)
	}
	return OneLine(err.Error())
}

// OneLine keeps a message on one line, but for a usage error's hint
// ("\nSee 'kubectl sluice x --help' for usage.").
func OneLine(s string) string {
	first, rest, ok := strings.Cut(s, "\nSee '")
	first = strings.Join(strings.Fields(first), " ")
	if ok {
		return first + "\nSee '" + rest
	}
	return first
}

// HTTPStatus is the status code of the Status err carries, or 0.
func HTTPStatus(err error) int {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return int(status.Status().Code)
	}
	return 0
}
