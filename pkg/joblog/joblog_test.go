package joblog

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// output is n lines, one a second from t0, as the archive keeps them.
func output(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s line %d\n", t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), i)
	}
	return b.String()
}

func filter(t *testing.T, f Filter, in string) string {
	t.Helper()
	var out bytes.Buffer
	_, err := f.Copy(&out, strings.NewReader(in))
	require.NoError(t, err)
	return out.String()
}

func TestHeader(t *testing.T) {
	assert.Equal(t, "==> build/compile (attempt 1)\n", Header("build", "compile", 1))
}

func TestFilter(t *testing.T) {
	in := output(5)
	all := Filter{Tail: NoTail}
	assert.Equal(t, "line 0\nline 1\nline 2\nline 3\nline 4\n", filter(t, all, in), "times are cut off by default")
	assert.Equal(t, in, filter(t, Filter{Tail: NoTail, Timestamps: true}, in), "and kept byte for byte when asked")
	assert.Equal(t, "line 3\nline 4\n", filter(t, Filter{Tail: 2}, in))
	assert.Equal(t, "", filter(t, Filter{Tail: 0}, in))
	assert.Equal(t, "line 0\nline 1\nline 2\nline 3\nline 4\n", filter(t, Filter{Tail: 50}, in), "a tail longer than the output")
	assert.Equal(t, "line 3\nline 4\n", filter(t, Filter{Tail: NoTail, Since: t0.Add(3 * time.Second)}, in))
	assert.Equal(t, "line 4\n", filter(t, Filter{Tail: 1, Since: t0.Add(3 * time.Second)}, in), "since, then tail, as kubectl logs")
	assert.Equal(t, "", filter(t, Filter{Tail: NoTail, Since: t0.Add(time.Hour)}, in))
}

func TestFilterOddLines(t *testing.T) {
	ts := t0.Format(time.RFC3339Nano)
	// A line without a time (a marker the server adds, or an odd source)
	// goes with the line before it, and is passed through as it is.
	in := ts + " first\nno time here\n" + t0.Add(time.Minute).Format(time.RFC3339Nano) + " last without newline"
	assert.Equal(t, "first\nno time here\nlast without newline\n", filter(t, Filter{Tail: NoTail}, in))
	assert.Equal(t, "last without newline\n", filter(t, Filter{Tail: NoTail, Since: t0.Add(time.Second)}, in))
	assert.Equal(t, "no time here\nlast without newline\n", filter(t, Filter{Tail: 2}, in))
	// An empty line keeps its time and is shown empty.
	assert.Equal(t, "\n", filter(t, Filter{Tail: NoTail}, ts+" \n"))
	// A line longer than the scanner's buffer is cut, not an error.
	long := ts + " " + strings.Repeat("x", maxLine+10) + "\n"
	got := filter(t, Filter{Tail: NoTail, Timestamps: true}, long)
	assert.True(t, strings.HasPrefix(got, ts), "%.40q", got)
}

func TestFilterTailKeepsOnlyTheTail(t *testing.T) {
	// Many lines through a tail of 3: the answer is the last three, and the
	// ring is reused rather than grown.
	in := output(10000)
	assert.Equal(t, "line 9997\nline 9998\nline 9999\n", filter(t, Filter{Tail: 3}, in))
}

func TestLimitWriter(t *testing.T) {
	var out bytes.Buffer
	w := NewLimitWriter(&out, 10)
	n, err := w.Write([]byte("12345"))
	assert.Equal(t, 5, n)
	assert.NoError(t, err)
	n, err = w.Write([]byte("6789abcdef"))
	assert.Equal(t, 5, n)
	assert.ErrorIs(t, err, ErrLimit)
	assert.Equal(t, "123456789a", out.String())
	_, err = w.Write([]byte("more"))
	assert.ErrorIs(t, err, ErrLimit)
	assert.Equal(t, "123456789a", out.String())

	out.Reset()
	unlimited := NewLimitWriter(&out, -1)
	_, err = unlimited.Write([]byte(strings.Repeat("z", 1000)))
	assert.NoError(t, err)
	assert.Equal(t, 1000, out.Len())
}

func TestCopyCompleteHoldsBackTheLastPartialLine(t *testing.T) {
	in := output(3) + t0.Format(time.RFC3339Nano) + " still writ"
	var out bytes.Buffer
	consumed, err := Filter{Tail: 2}.CopyComplete(&out, strings.NewReader(in))
	require.NoError(t, err)
	assert.Equal(t, "line 1\nline 2\n", out.String())
	assert.Equal(t, int64(len(output(3))), consumed, "every complete line counts, written or not")
}

func TestFollowerGoesOnWhereACopyStopped(t *testing.T) {
	full := output(6)
	// A tail of the output so far, then a follower of the whole output
	// that skips what the tail consumed: each line exactly once.
	var out bytes.Buffer
	consumed, err := Filter{Tail: 1}.CopyComplete(&out, strings.NewReader(full[:len(output(3))+7]))
	require.NoError(t, err)
	f := NewFollower(&out, Filter{Tail: NoTail})
	f.Consumed = consumed
	// The stream arrives in pieces that split lines anywhere.
	rest := full[consumed:]
	for len(rest) > 0 {
		n := min(5, len(rest))
		_, err := f.Write([]byte(rest[:n]))
		require.NoError(t, err)
		rest = rest[n:]
	}
	require.NoError(t, f.Flush())
	assert.Equal(t, "line 2\nline 3\nline 4\nline 5\n", out.String())
	assert.Equal(t, int64(len(full)), f.Consumed)

	// A partial line that is reset is not counted, and comes again.
	g := NewFollower(&out, Filter{Tail: NoTail})
	_, _ = g.Write([]byte(full[:len(output(1))+4]))
	g.Reset()
	assert.Equal(t, int64(len(output(1))), g.Consumed)
}

func TestFollowerSinceAndTimestamps(t *testing.T) {
	var out bytes.Buffer
	f := NewFollower(&out, Filter{Tail: NoTail, Since: t0.Add(2 * time.Second), Timestamps: true})
	_, err := f.Write([]byte(output(4)))
	require.NoError(t, err)
	assert.Equal(t, output(4)[len(output(2)):], out.String())
}

func TestMarkers(t *testing.T) {
	assert.Equal(t, "==> deploy (skipped)\n", Skipped("deploy"))
	assert.Equal(t, "[sluice] this output is lost: pod deleted\n", Lost("pod deleted"))
	assert.Contains(t, Truncated(2048), "first 2048 bytes")
}
