package kmip

import (
	"errors"
	"fmt"
)

// Error is a failed batch item: the Result Reason the spec names for the
// failure (KMIP 1.4 §11, 2.0 §11 "Error Handling") and a message for a
// person. The message goes to the client verbatim, so it must never carry
// key material, PINs or internal detail.
type Error struct {
	Reason  ResultReason
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "kmip: " + e.Reason.String()
	}
	return "kmip: " + e.Reason.String() + ": " + e.Message
}

// Is makes errors.Is(err, ErrItemNotFound) match any *Error with the same
// reason, whatever its message.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Reason == e.Reason && (t.Message == "" || t.Message == e.Message)
	}
	return false
}

// Errorf returns an *Error with the given reason and a formatted message.
func Errorf(reason ResultReason, format string, args ...any) error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for the common reasons; compare with errors.Is.
var (
	ErrInvalidMessage            = &Error{Reason: ResultReasonInvalidMessage}
	ErrInvalidField              = &Error{Reason: ResultReasonInvalidField}
	ErrMissingData               = &Error{Reason: ResultReasonMissingData}
	ErrItemNotFound              = &Error{Reason: ResultReasonItemNotFound}
	ErrPermissionDenied          = &Error{Reason: ResultReasonPermissionDenied}
	ErrOperationNotSupported     = &Error{Reason: ResultReasonOperationNotSupported}
	ErrFeatureNotSupported       = &Error{Reason: ResultReasonFeatureNotSupported}
	ErrResponseTooLarge          = &Error{Reason: ResultReasonResponseTooLarge}
	ErrCryptographicFailure      = &Error{Reason: ResultReasonCryptographicFailure}
	ErrIllegalOperation          = &Error{Reason: ResultReasonIllegalOperation}
	ErrWrongKeyLifecycleState    = &Error{Reason: ResultReasonWrongKeyLifecycleState}
	ErrGeneralFailure            = &Error{Reason: ResultReasonGeneralFailure}
	ErrKeyFormatTypeNotSupported = &Error{Reason: ResultReasonKeyFormatTypeNotSupported}
	ErrObjectArchived            = &Error{Reason: ResultReasonObjectArchived}
)

// ReasonOf returns the Result Reason for err: the reason of the first *Error
// in its chain, else General Failure.
func ReasonOf(err error) ResultReason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ResultReasonGeneralFailure
}
