package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/storage"
)

// Messages the apiserver's clients recognise; they are the same as etcd3's.
const (
	listTooOld      = "The resourceVersion for the provided list is too old."
	watchTooOld     = "The resourceVersion for the provided watch is too old."
	continueExpired = "The provided continue parameter is too old " +
		"to display a consistent list result. You can start a new list without " +
		"the continue parameter."
	inconsistentContinue = "The provided continue parameter is too old " +
		"to display a consistent list result. You can start a new list without " +
		"the continue parameter, or use the continue token in this response to " +
		"retrieve the remainder of the results. Continuing with the provided " +
		"token results in an inconsistent list - objects that were created, " +
		"modified, or deleted between the time the first chunk was returned " +
		"and now may show up in the list."
)

// errCompacted is returned internally when a read needs history older than
// the compacted revision.
var errCompacted = errors.New("required revision has been compacted")

// compactedListError is the 410 for a list at a compacted revision.
func compactedListError(continueKey, keyPrefix string, paging bool) error {
	if !paging {
		return apierrors.NewResourceExpired(listTooOld)
	}
	// As etcd3 does: offer a token that continues at the latest revision.
	token, err := storage.EncodeContinue(continueKey, keyPrefix, -1)
	if err != nil {
		return apierrors.NewResourceExpired(continueExpired)
	}
	statusErr := apierrors.NewResourceExpired(inconsistentContinue)
	statusErr.ErrStatus.ListMeta.Continue = token
	return statusErr
}

// interpret turns a database error into an error the apiserver maps to the
// right HTTP status. A database that cannot be reached, or that is shutting
// down or recovering, is 503 with a message, never 500: the request can be
// retried. A database out of disk space is 507. Context cancellation and
// deadlines become storage timeouts.
func interpret(key string, err error) error {
	if err == nil {
		return nil
	}
	var statusErr apierrors.APIStatus
	if errors.As(err, &statusErr) {
		return err
	}
	if _, ok := err.(*storage.StorageError); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return storage.NewTimeoutError(key, "request did not complete within the allowed time")
	case isDiskFull(err):
		return insufficientStorage(err)
	case isReadOnly(err):
		return retryableUnavailable(fmt.Sprintf("the database accepts no writes: it is a standby, or a failover is under way "+
			"(the database URL must lead to the primary: name one host that always is, or every member): %v", err))
	case isUnavailable(err):
		return unavailable(err)
	}
	return storage.NewInternalError(err)
}

// unavailable is the 503 for a database that cannot serve requests now.
func unavailable(err error) error {
	if isDiskFull(err) {
		// The sequencer cannot close the revisions of writes that failed,
		// so nothing newer can be published until space returns.
		return retryableUnavailable(fmt.Sprintf("the database is out of disk space: %v", err))
	}
	return retryableUnavailable(fmt.Sprintf("the database is unavailable: %v", err))
}

// ReasonInsufficientStorage is the reason of the 507 for a request the
// database had no disk space for. metav1 has no reason for it; clients that
// do not know this one go by the code.
const ReasonInsufficientStorage metav1.StatusReason = "InsufficientStorage"

// insufficientStorage is the 507 for a statement PostgreSQL could not run
// for lack of disk space (SQLSTATE 53100): the statement was rolled back, so
// a write was not stored. It has no Retry-After, unlike the 503s: it
// succeeds again only once space is freed or added, which takes an operator,
// not a second.
func insufficientStorage(err error) error {
	msg := err.Error()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		msg = pgErr.Message
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusInsufficientStorage,
		Reason:  ReasonInsufficientStorage,
		Message: "the database is out of disk space; nothing was written: " + msg,
	}}
}

// isDiskFull reports SQLSTATE 53100 (disk_full): PostgreSQL could not get
// the disk space a statement needed.
func isDiskFull(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "53100"
}

// revisionsLost is the 503 for a write whose revision was closed as a hole
// on every try: nothing was written, and the client may retry.
func revisionsLost(key string, tries int) error {
	return retryableUnavailable(fmt.Sprintf("the write of %s was not stored: under load it lost its revision %d times; retry", key, tries))
}

// A 503 with Retry-After is a request client-go sends again by itself,
// whatever its verb, reporting only the last answer: a create that was
// stored and answered so comes back as 409 AlreadyExists. So only a write
// the database never ran, or rolled back, is answered with Retry-After; a
// write that may have been stored gets one of the two 503s below, which
// have none, and say what the client should do instead.

// mayHaveBeenStored reports whether a write statement that failed with err
// may have committed. A statement refused before it was sent never reached
// the database, and one PostgreSQL answered with an ERROR was rolled back
// (each write is one implicit transaction). A FATAL ends the session, maybe
// after the commit (a backend terminated while it waits for its
// synchronous standby has committed locally), and a connection lost after
// the statement was sent may have lost the answer to a commit.
func mayHaveBeenStored(err error) bool {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || pgconn.SafeToRetry(err) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // not sent; or a timeout, which is answered as one
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		severity := pgErr.SeverityUnlocalized
		if severity == "" {
			severity = pgErr.Severity
		}
		return severity == "FATAL" || severity == "PANIC"
	}
	return isUnavailable(err)
}

// outcomeUnknown is the 503 for a write whose connection failed while the
// database ran it.
func outcomeUnknown(key string, err error) error {
	return apierrors.NewServiceUnavailable(fmt.Sprintf("the write of %s may or may not have been stored: "+
		"the database connection failed while it ran (%v); read it back before writing it again", key, err))
}

// storedNotPublished is the 503 for a write the database committed at
// revision rv whose revision the store cannot publish yet (the error
// waitPublished returned): answering it would hand out a revision readers
// may not see yet. It becomes visible once the storage recovers.
func storedNotPublished(key string, rv int64, err error) error {
	return apierrors.NewServiceUnavailable(fmt.Sprintf("the write of %s was stored at revision %d, "+
		"but the storage cannot publish that revision yet (%v); read it back rather than write it again", key, rv, err))
}

// retryableUnavailable is a 503 that asks the client to retry in a second.
func retryableUnavailable(msg string) error {
	e := apierrors.NewServiceUnavailable(msg)
	e.ErrStatus.Details = &metav1.StatusDetails{RetryAfterSeconds: 1}
	return e
}

// isUnavailable reports errors that mean the database is unreachable or not
// accepting work, as opposed to a bug in a query.
func isUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", // connection exception
			"53", // insufficient resources
			"57": // operator intervention: admin shutdown, crash shutdown, cannot connect now
			return true
		}
		return false
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	return errors.As(err, &netErr) || errors.As(err, &connectErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "conn closed")
}

// isReadOnly reports a write refused because the server accepts none: a
// standby (the old primary after a failover, when the URL lets the pool
// connect to it), or a database set read-only.
func isReadOnly(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "25006" // read_only_sql_transaction
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000")
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
