package objects

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is; the store wraps them
// with the operation and the object's identifier.
var (
	// ErrNotFound: no object has the identifier (KMIP Item Not Found).
	ErrNotFound = errors.New("object not found")

	// ErrExists: Create was given an identifier that is already stored.
	ErrExists = errors.New("object already exists")

	// ErrInvalidTransition: the lifecycle state change is not one of those
	// KMIP 1.4 §3.22 permits (KMIP Wrong Key Lifecycle State).
	ErrInvalidTransition = errors.New("invalid state transition")

	// ErrConflict: an Update callback tried to change what identifies the
	// stored record (its Unique Identifier).
	ErrConflict = errors.New("conflicting update")

	// ErrSchemaTooNew: the database was written by a newer kmipd whose
	// schema this binary does not understand; it is left untouched.
	ErrSchemaTooNew = errors.New("database schema is newer than this kmipd supports")

	// ErrLocked: another process holds the database file's lock.
	ErrLocked = errors.New("database is locked by another kmipd")

	// ErrInvalidObject: the Object cannot be stored as given (empty or
	// oversized identifier, an attribute without a value, ...).
	ErrInvalidObject = errors.New("invalid object")

	// ErrNameTaken: the write would give an object a Name value that
	// another live object of the same tenant already has (KMIP 1.4 §3.2:
	// "Names SHALL be unique within a given key management domain"). It
	// comes wrapped in a *NameTakenError, which says which name.
	ErrNameTaken = errors.New("name already used by another object")

	// ErrClosed: the store was closed; a write started after Close is
	// refused (writes already in progress are committed before Close
	// returns).
	ErrClosed = errors.New("store is closed")
)

// NameTakenError is the ErrNameTaken of one Name value, so that a caller can
// say which name was refused: errors.As finds it, errors.Is(err,
// ErrNameTaken) holds.
type NameTakenError struct {
	Name string
}

func (e *NameTakenError) Error() string { return fmt.Sprintf("name %q: %v", e.Name, ErrNameTaken) }

func (e *NameTakenError) Unwrap() error { return ErrNameTaken }
