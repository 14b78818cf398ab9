// Package errs classifies failures once, near the client that saw them, into the few kinds the
// rest of Pilotdesk acts on: retry (Transient), give up on this item (Invalid, NotExist,
// Permission, Conflict), or stop the connection until a human re-authorises it (Reauth).
package errs

import (
	"errors"
	"fmt"
)

// Kind is what a caller should do about an error.
type Kind uint8

// The kinds of error.
const (
	Other      Kind = iota // unclassified: treated as transient by Retryable
	Transient              // 429, 5xx, timeouts, resets: try again later
	Invalid                // the request or input is wrong: retrying cannot help
	Permission             // 401 after retry, 403: credentials or plan do not allow it
	NotExist               // 404: the resource is gone
	Conflict               // the resource already exists / already done
	Reauth                 // the connection's credentials must be re-authorised by a human
)

func (k Kind) String() string {
	switch k {
	case Transient:
		return "transient"
	case Invalid:
		return "invalid"
	case Permission:
		return "permission"
	case NotExist:
		return "not_exist"
	case Conflict:
		return "conflict"
	case Reauth:
		return "reauth"
	}
	return "other"
}

// Error is a classified error. Op names the operation ("trustpilot.ListReviews").
type Error struct {
	Kind Kind
	Op   string
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%s: %s", e.Op, e.Kind)
	}
	return fmt.Sprintf("%s: %s: %v", e.Op, e.Kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// E builds a classified error.
func E(kind Kind, op string, err error) error { return &Error{Kind: kind, Op: op, Err: err} }

// KindOf returns the kind of the outermost classified error in err's chain, or Other.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Other
}

// Is reports whether err is classified as kind.
func Is(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }

// Retryable reports whether trying again later may succeed: transient and unclassified errors.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	k := KindOf(err)
	return k == Transient || k == Other
}
