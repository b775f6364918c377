package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // every binary carries the IANA zones (see doc.go)

	"github.com/robfig/cron/v3"
)

const (
	// MaxCatchUp is the most missed slots Due fires at once.
	MaxCatchUp = 100
	// MaxWalk is how many cron slots Due walks one by one before it
	// jumps ahead (see doc.go).
	MaxWalk = 1000
)

// parser is robfig/cron's standard five-field syntax plus descriptors.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is a parsed cron expression in its time zone.
type Schedule struct {
	cron cron.Schedule
	// every is the interval of an @every schedule, 0 for a cron one.
	every time.Duration
	loc   *time.Location
}

// LoadLocation returns the IANA time zone name; "" is UTC. "Local" is
// rejected: it would differ between machines.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" {
		return nil, errors.New(`time zone "Local" depends on the machine; name an IANA time zone such as "Europe/Berlin" or "UTC"`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: name an IANA time zone such as \"Europe/Berlin\" or \"UTC\"", name)
	}
	return loc, nil
}

// Parse parses a cron expression or descriptor in the named time zone.
// The errors are meant for a user: they name what is wrong.
func Parse(expr, timeZone string) (*Schedule, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, errors.New("a cron expression is required, e.g. \"0 3 * * 1-5\" or \"@every 30s\"")
	}
	if strings.HasPrefix(expr, "CRON_TZ=") || strings.HasPrefix(expr, "TZ=") {
		return nil, errors.New("the cron expression must not start with CRON_TZ= or TZ=: set the time zone in timeZone")
	}
	loc, err := LoadLocation(timeZone)
	if err != nil {
		return nil, err
	}
	sched, err := parser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression %q: %v", expr, err)
	}
	s := &Schedule{cron: sched, loc: loc}
	switch c := sched.(type) {
	case *cron.SpecSchedule:
		// The parser put time.Local in; the zone is ours to set.
		c.Location = loc
	case cron.ConstantDelaySchedule:
		s.every = c.Delay
	}
	return s, nil
}

// Location is the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// Next is the first slot strictly after t, in UTC, or the zero time when
// there is none within five years (e.g. "0 0 30 2 *").
func (s *Schedule) Next(t time.Time) time.Time {
	n := s.cron.Next(t)
	if n.IsZero() {
		return n
	}
	return n.UTC()
}

// Due is what a schedule asks for now.
type Due struct {
	// Fire holds the slots to start a job for, oldest first, in UTC.
	Fire []time.Time
	// Skipped counts the slots missed since the last one handled that do
	// not fire: too late for the deadline, or older than the catchUp
	// newest.
	Skipped int64
	// SkippedEstimated says Skipped is estimated, because too many slots
	// were missed to walk them all (see doc.go).
	SkippedEstimated bool
	// Next is the first slot after now, zero when there is none.
	Next time.Time
}

// Due returns the slots after last (the last slot handled, or the
// trigger's creation time) up to and including now that fire, and how
// many are skipped. A slot fires when it is among the catchUp newest and,
// with a deadline above zero, is at most deadline old. A deadline of zero
// means none.
func (s *Schedule) Due(last, now time.Time, deadline time.Duration, catchUp int32) Due {
	last, now = last.UTC(), now.UTC()
	k := int(catchUp)
	if k < 1 {
		k = 1
	}
	if k > MaxCatchUp {
		k = MaxCatchUp
	}
	// Slots before the boundary are too late; the boundary itself is not.
	boundary := last
	if deadline > 0 && now.Add(-deadline).After(last) {
		boundary = now.Add(-deadline)
	}
	var d Due
	if s.every > 0 {
		d = s.dueEvery(last, now, boundary, k)
	} else {
		d = s.dueCron(last, now, boundary, k)
	}
	d.Next = s.Next(now)
	return d
}

// dueEvery counts the slots of an @every schedule: last+i*every for i >= 1,
// last truncated to the second as robfig/cron does.
func (s *Schedule) dueEvery(last, now, boundary time.Time, k int) Due {
	base := last.Truncate(time.Second)
	if !now.After(base) {
		return Due{}
	}
	total := int64(now.Sub(base) / s.every) // slots in (base, now]
	// The first slot at or after the boundary: index ceil((boundary-base)/every), at least 1.
	first := int64(1)
	if off := boundary.Sub(base); off > 0 {
		first = int64((off + s.every - 1) / s.every)
	}
	inTime := total - first + 1
	if inTime < 0 {
		inTime = 0
	}
	fire := min(inTime, int64(k))
	d := Due{Skipped: total - fire}
	for i := total - fire + 1; i <= total; i++ {
		d.Fire = append(d.Fire, base.Add(time.Duration(i)*s.every))
	}
	return d
}

// dueCron walks the slots of a cron schedule, with the bound of doc.go.
func (s *Schedule) dueCron(last, now, boundary time.Time, k int) Due {
	var d Due
	// Too late: the slots in (last, boundary).
	late, lateEstimated, _ := s.walk(last, boundary.Add(-time.Nanosecond), 0)
	// In time: the slots in [boundary, now], the newest k kept.
	start := last
	if boundary.After(last) {
		start = boundary.Add(-time.Nanosecond)
	}
	inTime, inTimeEstimated, newest := s.walk(start, now, k)
	d.Fire = newest
	d.Skipped = late + inTime - int64(len(newest))
	d.SkippedEstimated = lateEstimated || inTimeEstimated
	return d
}

// walk counts the slots in (after, until] and returns the newest k of
// them, oldest first. It calls Next at most about MaxWalk times per jump;
// see doc.go for the jumps and the estimate.
func (s *Schedule) walk(after, until time.Time, k int) (count int64, estimated bool, newest []time.Time) {
	if !until.After(after) {
		return 0, false, nil
	}
	t, segmentStart, steps := after, after, 0
	for {
		n := s.Next(t)
		if n.IsZero() || n.After(until) {
			return count, estimated, newest
		}
		count++
		t = n
		if k > 0 {
			if len(newest) == k {
				newest = append(newest[:0], newest[1:]...)
			}
			newest = append(newest, n)
		}
		steps++
		if steps < MaxWalk {
			continue
		}
		average := t.Sub(segmentStart) / time.Duration(steps)
		if average <= 0 {
			average = time.Second
		}
		if jumpTo := until.Add(-average * MaxWalk / 2); jumpTo.After(t) {
			count += int64(jumpTo.Sub(t) / average)
			estimated = true
			t = jumpTo
			// The slots kept are older than those jumped over.
			newest = newest[:0]
		}
		segmentStart, steps = t, 0
	}
}
