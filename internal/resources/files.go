package resources

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// listFiles returns the YAML files of a resources path: the path itself
// when it is a file, else the .yaml/.yml files directly inside the
// directory, sorted by name. Sub-directories are not read.
func listFiles(path string, log *slog.Logger) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, &Error{File: path, Err: fmt.Errorf("cannot read resources path: %w", unwrapPathError(err))}
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, &Error{File: path, Err: fmt.Errorf("cannot list resources directory: %w", unwrapPathError(err))}
	}
	var files []string
	for _, e := range entries {
		full := filepath.Join(path, e.Name())
		if !isYAMLName(e.Name()) {
			if !e.IsDir() {
				log.Debug("skipping non-YAML file in resources path", "file", full)
			}
			continue
		}
		// Stat follows symlinks, so a link to a file counts as a file.
		if fi, err := os.Stat(full); err != nil || fi.IsDir() {
			continue
		}
		files = append(files, full)
	}
	return files, nil
}

func isYAMLName(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// chunk is the text of one document and the file line it starts on.
type chunk struct {
	text []byte
	line int
}

// splitDocuments splits a file at every line starting with "---", as daprd
// does. Text after "---" on the separator line stays with the next document.
func splitDocuments(b []byte) []chunk {
	lines := strings.SplitAfter(string(b), "\n")
	var out []chunk
	var cur strings.Builder
	start := 1
	for i, ln := range lines {
		if strings.HasPrefix(ln, "---") {
			out = append(out, chunk{text: []byte(cur.String()), line: start})
			cur.Reset()
			cur.WriteString(strings.TrimPrefix(ln, "---"))
			start = i + 1
			continue
		}
		cur.WriteString(ln)
	}
	return append(out, chunk{text: []byte(cur.String()), line: start})
}

// loadFile loads every document of one file. Documents are numbered from 1,
// counting only those with content (a leading "---" does not count).
func (l *loader) loadFile(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		l.problems = append(l.problems, &Error{File: path, Err: fmt.Errorf("cannot read file: %w", unwrapPathError(err))})
		return
	}
	doc := 0
	for _, c := range splitDocuments(b) {
		if isBlankYAML(c.text) {
			continue
		}
		doc++
		src := Source{File: path, Document: doc}
		v, err := parseYAML(c.text, c.line)
		if err != nil {
			l.report(src, errs(&Error{Err: err}))
			continue
		}
		if v == nil {
			continue
		}
		l.loadDocument(src, v)
	}
}

// isBlankYAML reports whether text has nothing but spaces and comments.
func isBlankYAML(text []byte) bool {
	for ln := range strings.SplitSeq(string(text), "\n") {
		ln = strings.TrimSpace(ln)
		if ln != "" && !strings.HasPrefix(ln, "#") {
			return false
		}
	}
	return true
}
