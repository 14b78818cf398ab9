package gorgias

import (
	"bytes"
	"errors"
	"unicode/utf8"
)

// fieldDecoder is an answer type that reads a few of an object's members and has no use for the
// rest. Client.once hands it the raw body instead of calling json.Unmarshal, which scans the
// whole body twice with its byte-at-a-time state machine (once to validate, once to decode)
// before it can skip a member.
type fieldDecoder interface {
	decodeFields(data []byte) error
}

// errNotFast tells decodeObjectFields' caller that the body needs the standard decoder: not a
// plain object, a member name that is escaped or only matches a wanted one ignoring case, or
// bytes out of place. The standard decoder then decides, with its own error.
var errNotFast = errors.New("not a plain object")

// decodeObjectFields finds the top-level members of the JSON object in data whose names are
// exactly those in fields, and decodes each into its target (with decode: a fieldDecoder reads
// its own fields the same way, anything else goes to json.Unmarshal) (a later
// duplicate decodes over an earlier one, as json.Unmarshal does). Everything else is skipped by
// finding its end, without checking it: a bracket count that knows about strings. It returns
// errNotFast whenever its answer could differ from json.Unmarshal(data, v) for a v with these
// fields, so that the caller can fall back; for any body json.Unmarshal accepts it decodes the
// same values (FuzzDecodeObjectFields holds it to that).
func decodeObjectFields(data []byte, fields []field) error {
	i, empty, err := opening(data, '{', '}')
	if empty || err != nil {
		return err
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return errNotFast
		}
		end := stringEnd(data, i)
		if end < 0 {
			return errNotFast
		}
		name := data[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			return errNotFast
		}
		target := wantedField(name, fields)
		wanted := target != nil
		if !wanted && foldsToAny(name, fields) {
			return errNotFast
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return errNotFast
		}
		i = skipSpace(data, i+1)
		vend := valueEnd(data, i)
		if vend < 0 {
			return errNotFast
		}
		if wanted {
			if err := decode(data[i:vend], target); err != nil {
				return errNotFast
			}
		}
		next, last, err := afterValue(data, vend, '}')
		if last || err != nil {
			return err
		}
		i = next
	}
}

// decodeArrayElements hands each element of the JSON array in data to each, unchecked beyond
// where it ends, in order; errNotFast when data is not a plain array.
func decodeArrayElements(data []byte, each func(elem []byte) error) error {
	i, empty, err := opening(data, '[', ']')
	if empty || err != nil {
		return err
	}
	for {
		end := valueEnd(data, i)
		if end < 0 {
			return errNotFast
		}
		if err := each(data[i:end]); err != nil {
			return err
		}
		next, last, err := afterValue(data, end, ']')
		if last || err != nil {
			return err
		}
		i = next
	}
}

// opening reads the opener that must begin data (after space): the index of the first member or
// element, or empty when the closer follows at once (then only space may come after it).
func opening(data []byte, opener, closer byte) (i int, empty bool, err error) {
	i = skipSpace(data, 0)
	if i >= len(data) || data[i] != opener {
		return 0, false, errNotFast
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == closer {
		return 0, true, trailingSpaceOnly(data, i+1)
	}
	return i, false, nil
}

// afterValue reads what follows a member or an element ending at data[i]: a comma (more follow,
// the next from next) or closer (the last: only space may come after it).
func afterValue(data []byte, i int, closer byte) (next int, last bool, err error) {
	i = skipSpace(data, i)
	switch {
	case i >= len(data):
		return 0, false, errNotFast
	case data[i] == ',':
		return skipSpace(data, i+1), false, nil
	case data[i] == closer:
		return 0, true, trailingSpaceOnly(data, i+1)
	}
	return 0, false, errNotFast
}

// field is a member decodeObjectFields decodes: its exact name and where its value goes.
type field struct {
	name string
	into any
}

func wantedField(name []byte, fields []field) any {
	for _, f := range fields {
		if string(name) == f.name {
			return f.into
		}
	}
	return nil
}

// foldsToAny reports whether name equals a wanted member's name ignoring case, which
// json.Unmarshal would accept and this reader does not try to copy. An ASCII name of another
// length cannot (only non-ASCII letters such as the Kelvin sign fold to a letter of another
// length).
func foldsToAny(name []byte, fields []field) bool {
	ascii := true
	for _, c := range name {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	for _, f := range fields {
		if (!ascii || len(name) == len(f.name)) && bytes.EqualFold(name, []byte(f.name)) {
			return true
		}
	}
	return false
}

func trailingSpaceOnly(data []byte, i int) error {
	if skipSpace(data, i) != len(data) {
		return errNotFast
	}
	return nil
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd is the index after the string that opens at data[i] ('"'), or -1 if it never closes.
func stringEnd(data []byte, i int) int {
	j := i + 1
	for {
		q := bytes.IndexByte(data[j:], '"')
		if q < 0 {
			return -1
		}
		b := bytes.IndexByte(data[j:j+q], '\\')
		if b < 0 {
			return j + q + 1
		}
		j += b + 2 // a backslash and the byte it escapes
		if j > len(data) {
			return -1
		}
	}
}

// valueEnd is the index after the value that starts at data[i], or -1 when there is none or it
// never ends. Only strings and brackets are followed; what lies between is not checked.
func valueEnd(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end := stringEnd(data, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	case ',', '}', ']', ':':
		return -1
	default: // a number or a literal: up to the next delimiter
		j := i
		for j < len(data) {
			switch data[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return j
			}
			j++
		}
		return j
	}
}
