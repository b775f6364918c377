package joblog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// Header is the line that introduces an action's output when the answer
// holds more than one action: "==> build/compile (attempt 1)".
func Header(step, action string, attempt int64) string {
	return fmt.Sprintf("==> %s/%s (attempt %d)\n", step, action, attempt)
}

// Filter selects and formats the lines of one action's output.
type Filter struct {
	// Since drops the lines written before it, when it is not zero.
	Since time.Time
	// Tail keeps only the last Tail lines, when it is not negative.
	Tail int64
	// Timestamps keeps each line's time; without it the time is cut off.
	Timestamps bool
}

// NoTail is the Tail of a Filter that keeps every line.
const NoTail = -1

// maxLine bounds one line; a longer one is cut, as the kubelet's log
// reader bounds what it returns per line.
const maxLine = 1 << 20

// Copy writes the lines of r, a finished output, that the filter selects,
// and returns how many lines it wrote. With a tail it holds that many
// lines in memory and nothing more.
func (f Filter) Copy(w io.Writer, r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	sc.Split(scanLinesKeepingNewline)
	var ring [][]byte
	next := 0 // where the next line goes in ring, once it is full
	written := 0
	write := func(line []byte) error {
		written++
		_, err := w.Write(f.format(line))
		return err
	}
	var last time.Time
	for sc.Scan() {
		line := sc.Bytes()
		at, ok := lineTime(line)
		if ok {
			last = at
		} else {
			at = last // a line without a time belongs with the line before it
		}
		if !f.Since.IsZero() && at.Before(f.Since) {
			continue
		}
		switch {
		case f.Tail < 0:
			if err := write(line); err != nil {
				return written, err
			}
		case f.Tail == 0:
		case int64(len(ring)) < f.Tail:
			ring = append(ring, bytes.Clone(line))
		default:
			ring[next] = append(ring[next][:0], line...)
			next = (next + 1) % len(ring)
		}
	}
	if err := sc.Err(); err != nil {
		return written, err
	}
	for i := range ring {
		if err := write(ring[(next+i)%len(ring)]); err != nil {
			return written, err
		}
	}
	return written, nil
}

// format is line as the filter shows it, newline-terminated.
func (f Filter) format(line []byte) []byte {
	if !f.Timestamps {
		if _, ok := lineTime(line); ok {
			line = line[bytes.IndexByte(line, ' ')+1:]
		}
	}
	if len(line) == 0 || line[len(line)-1] != '\n' {
		line = append(bytes.Clone(line), '\n')
	}
	return line
}

// lineTime is the time a line begins with, if it begins with one.
func lineTime(line []byte) (time.Time, bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		sp = len(bytes.TrimRight(line, "\n"))
	}
	if sp < len("2006-01-02T15:04:05Z") {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(line[:sp]))
	return t, err == nil
}

// scanLinesKeepingNewline is bufio.ScanLines without dropping the newline,
// so that a line's bytes are copied as they were.
func scanLinesKeepingNewline(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i+1], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	if len(data) >= maxLine {
		return maxLine, data[:maxLine], nil
	}
	return 0, nil, nil
}

// ErrLimit is returned by a LimitWriter once it has written its limit: the
// answer is complete, and whatever produces it should stop.
var ErrLimit = errors.New("the byte limit of the answer is reached")

// LimitWriter writes at most n bytes to w, over the whole answer.
type LimitWriter struct {
	w io.Writer
	n int64
}

// NewLimitWriter returns a writer of at most n bytes to w; n < 0 is no limit.
func NewLimitWriter(w io.Writer, n int64) *LimitWriter { return &LimitWriter{w: w, n: n} }

// Write writes what fits, and ErrLimit when p did not fit.
func (l *LimitWriter) Write(p []byte) (int, error) {
	if l.n < 0 {
		return l.w.Write(p)
	}
	if int64(len(p)) <= l.n {
		n, err := l.w.Write(p)
		l.n -= int64(n)
		return n, err
	}
	n, err := l.w.Write(p[:l.n])
	l.n -= int64(n)
	if err == nil {
		err = ErrLimit
	}
	return n, err
}
