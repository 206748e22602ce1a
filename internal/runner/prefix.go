package runner

import (
	"bytes"
	"io"
	"sync"
)

// maxPartialLine bounds how much of an unterminated line is buffered (an app
// drawing a progress bar never prints a newline); longer runs are emitted as
// a line of their own.
const maxPartialLine = 64 << 10

// PrefixWriter writes every line it receives to an underlying writer with a
// prefix, e.g. "== APP == ". Partial lines are held until their newline
// arrives (or Flush), so a line split across writes still gets one prefix.
// Each output line is a single Write, which keeps lines from different
// writers sharing a terminal from interleaving mid-line.
type PrefixWriter struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  []byte
	partial []byte
}

// NewPrefixWriter returns a PrefixWriter writing to w.
func NewPrefixWriter(w io.Writer, prefix string) *PrefixWriter {
	return &PrefixWriter{w: w, prefix: []byte(prefix)}
}

// Write implements io.Writer.
func (p *PrefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	done := 0
	for done < len(b) {
		rest := b[done:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			p.partial = append(p.partial, rest...)
			done = len(b)
			if len(p.partial) >= maxPartialLine {
				if err := p.emit(nil); err != nil {
					return done, err
				}
			}
			break
		}
		if err := p.emit(rest[:i]); err != nil {
			return done, err
		}
		done += i + 1
	}
	return done, nil
}

// Flush writes a pending partial line, terminated with a newline.
func (p *PrefixWriter) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.partial) == 0 {
		return nil
	}
	return p.emit(nil)
}

// emit writes prefix + pending partial line + tail + "\n" and clears the
// partial buffer.
func (p *PrefixWriter) emit(tail []byte) error {
	line := make([]byte, 0, len(p.prefix)+len(p.partial)+len(tail)+1)
	line = append(line, p.prefix...)
	line = append(line, p.partial...)
	line = append(line, tail...)
	line = append(line, '\n')
	p.partial = p.partial[:0]
	_, err := p.w.Write(line)
	return err
}
