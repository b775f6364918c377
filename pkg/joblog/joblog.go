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

// Skipped is the line that stands for a step the job skipped.
func Skipped(step string) string {
	return fmt.Sprintf("==> %s (skipped)\n", step)
}

// Lost is the line that stands for an output that was not archived and
// cannot be read any more, saying why.
func Lost(why string) string {
	return fmt.Sprintf("[sluice] this output is lost: %s\n", why)
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
	written, _, err := f.copy(w, r, false)
	return written, err
}

// CopyComplete is Copy for the output so far of a container that is still
// running: a last line without its newline may still grow, so it is
// neither written nor counted. It returns how many bytes of r the lines it
// consumed hold, whether it wrote them or not, so that a reader following
// the same output can go on after exactly those bytes.
func (f Filter) CopyComplete(w io.Writer, r io.Reader) (consumed int64, err error) {
	_, consumed, err = f.copy(w, r, true)
	return consumed, err
}

func (f Filter) copy(w io.Writer, r io.Reader, completeOnly bool) (written int, consumed int64, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	sc.Split(scanLinesKeepingNewline)
	var ring [][]byte
	next := 0 // where the next line goes in ring, once it is full
	write := func(line []byte) error {
		written++
		_, err := w.Write(f.format(line))
		return err
	}
	var last time.Time
	for sc.Scan() {
		line := sc.Bytes()
		if completeOnly && line[len(line)-1] != '\n' && len(line) < maxLine {
			break // the last line, still being written
		}
		consumed += int64(len(line))
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
				return written, consumed, err
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
		return written, consumed, err
	}
	for i := range ring {
		if err := write(ring[(next+i)%len(ring)]); err != nil {
			return written, consumed, err
		}
	}
	return written, consumed, nil
}

// Follower writes the lines of an output that grows, as they come: every
// complete line the filter's Since selects, formatted as Copy formats it
// (a follower has no tail: what it is given is the tail). It is an
// io.Writer, so that a stream can be copied into it.
type Follower struct {
	f    Filter
	w    io.Writer
	last time.Time
	// partial is the start of a line whose newline has not come yet.
	partial []byte
	// Consumed is how many bytes of the output the complete lines written
	// so far, selected or not, hold.
	Consumed int64
}

// NewFollower returns a follower that writes to w what f selects.
func NewFollower(w io.Writer, f Filter) *Follower { return &Follower{f: f, w: w} }

// Write takes the next bytes of the output.
func (l *Follower) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		nl := bytes.IndexByte(p, '\n')
		if nl < 0 {
			l.partial = append(l.partial, p...)
			if len(l.partial) >= maxLine {
				if err := l.line(l.partial); err != nil {
					return n, err
				}
			}
			return n, nil
		}
		line := p[:nl+1]
		if len(l.partial) > 0 {
			line = append(l.partial, line...)
		}
		if err := l.line(line); err != nil {
			return n, err
		}
		p = p[nl+1:]
	}
	return n, nil
}

// Reset forgets a partial line, which the next read of the output, from
// Consumed on, starts again.
func (l *Follower) Reset() { l.partial = l.partial[:0] }

// Flush writes a last line that has no newline: the output has ended.
func (l *Follower) Flush() error {
	if len(l.partial) == 0 {
		return nil
	}
	return l.line(l.partial)
}

func (l *Follower) line(line []byte) error {
	l.Consumed += int64(len(line))
	l.partial = l.partial[:0]
	at, ok := lineTime(line)
	if ok {
		l.last = at
	} else {
		at = l.last
	}
	if !l.f.Since.IsZero() && at.Before(l.f.Since) {
		return nil
	}
	_, err := l.w.Write(l.f.format(line))
	return err
}

// Truncated is the line that stands for the start of an output the archive
// did not keep.
func Truncated(bytes int64) string {
	return fmt.Sprintf("[sluice] the first %d bytes of this output were not kept: the archive keeps the end of each output, up to its limit\n", bytes)
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
