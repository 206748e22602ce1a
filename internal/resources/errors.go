package resources

import (
	"fmt"
	"strings"
)

// Error is one problem found in a resource or configuration file. It names
// the file, the document inside it and the field, so a user can go straight
// to the line to fix.
type Error struct {
	File     string
	Document int    // 1-based index among the file's non-empty documents; 0 for a whole file
	Field    string // dotted path such as spec.metadata[2].name; "" when not tied to a field
	Err      error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Document > 0 {
		fmt.Fprintf(&b, "document %d: ", e.Document)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// fieldErr builds an Error for a field; the loader fills in file and document.
func fieldErr(field, format string, args ...any) *Error {
	return &Error{Field: field, Err: fmt.Errorf(format, args...)}
}

// joinPath appends a struct or map key to a dotted path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// indexPath appends a list index to a path.
func indexPath(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}
