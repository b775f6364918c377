package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func mustParse(t *testing.T, expr, zone string) *Schedule {
	t.Helper()
	s, err := Parse(expr, zone)
	require.NoError(t, err)
	return s
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		expr, zone, want string
	}{
		{"", "", "a cron expression is required"},
		{"   ", "", "a cron expression is required"},
		{"CRON_TZ=Europe/Berlin 0 3 * * *", "", "set the time zone in timeZone"},
		{"TZ=UTC 0 3 * * *", "", "set the time zone in timeZone"},
		{"0 3 * *", "", `invalid cron expression "0 3 * *"`},
		{"61 3 * * *", "", `invalid cron expression "61 3 * * *"`},
		{"0 0 3 * * *", "", "invalid cron expression"}, // no seconds field
		{"@fortnightly", "", "invalid cron expression"},
		{"@every nope", "", "invalid cron expression"},
		{"0 3 * * *", "Mars/Olympus_Mons", `unknown time zone "Mars/Olympus_Mons"`},
		{"0 3 * * *", "Local", `time zone "Local" depends on the machine`},
	}
	for _, c := range cases {
		_, err := Parse(c.expr, c.zone)
		if assert.Error(t, err, c.expr) {
			assert.Contains(t, err.Error(), c.want, c.expr)
		}
	}
	for _, ok := range []string{"0 3 * * 1-5", "*/5 * * * *", "@hourly", "@daily", "@every 30s", "@every 1h30m"} {
		_, err := Parse(ok, "Europe/Berlin")
		assert.NoError(t, err, ok)
	}
}

func TestTimeZone(t *testing.T) {
	// 03:00 in Berlin is 01:00 UTC in summer, 02:00 UTC in winter.
	s := mustParse(t, "0 3 * * *", "Europe/Berlin")
	assert.Equal(t, utc("2025-07-01T01:00:00Z"), s.Next(utc("2025-06-30T12:00:00Z")))
	assert.Equal(t, utc("2025-01-02T02:00:00Z"), s.Next(utc("2025-01-01T12:00:00Z")))
	// No zone is UTC, whatever the machine's.
	s = mustParse(t, "0 3 * * *", "")
	assert.Equal(t, time.UTC, s.Location())
	assert.Equal(t, utc("2025-01-02T03:00:00Z"), s.Next(utc("2025-01-01T12:00:00Z")))
	// Descriptors are in the zone too.
	s = mustParse(t, "@daily", "America/New_York")
	assert.Equal(t, utc("2025-01-02T05:00:00Z"), s.Next(utc("2025-01-01T12:00:00Z")))
}

// TestDST pins what robfig/cron does around Europe/Berlin's changes in
// 2025, as doc.go describes it.
func TestDST(t *testing.T) {
	s := mustParse(t, "30 2 * * *", "Europe/Berlin")
	slots := func(from time.Time, n int) []time.Time {
		var out []time.Time
		for t := from; len(out) < n; {
			t = s.Next(t)
			out = append(out, t)
		}
		return out
	}
	// Spring forward on 30 March: 02:00 CET becomes 03:00 CEST, 02:30
	// does not exist, and that day has no slot.
	assert.Equal(t, []time.Time{
		utc("2025-03-29T01:30:00Z"), // 02:30 CET
		utc("2025-03-31T00:30:00Z"), // 02:30 CEST, the day after
	}, slots(utc("2025-03-29T00:00:00Z"), 2))
	// Fall back on 26 October: 03:00 CEST becomes 02:00 CET, 02:30
	// happens twice, and both fire.
	assert.Equal(t, []time.Time{
		utc("2025-10-25T00:30:00Z"), // 02:30 CEST
		utc("2025-10-26T00:30:00Z"), // 02:30 CEST
		utc("2025-10-26T01:30:00Z"), // 02:30 CET, the same wall clock again
		utc("2025-10-27T01:30:00Z"), // 02:30 CET
	}, slots(utc("2025-10-25T00:00:00Z"), 4))

	// Due agrees: a controller down over the spring-forward night finds
	// one slot, not two.
	d := s.Due(utc("2025-03-29T01:30:00Z"), utc("2025-03-31T00:30:05Z"), 0, 5)
	assert.Equal(t, []time.Time{utc("2025-03-31T00:30:00Z")}, d.Fire)
	// And down over the fall-back night, both 02:30s.
	d = s.Due(utc("2025-10-25T00:30:00Z"), utc("2025-10-26T02:00:00Z"), 0, 5)
	assert.Equal(t, []time.Time{utc("2025-10-26T00:30:00Z"), utc("2025-10-26T01:30:00Z")}, d.Fire)
	assert.Zero(t, d.Skipped)
}

func TestDueOnTime(t *testing.T) {
	s := mustParse(t, "0 3 * * 1-5", "UTC")
	// Nothing due before the first slot.
	d := s.Due(utc("2025-01-06T02:00:00Z"), utc("2025-01-06T02:59:59Z"), 600*time.Second, 3)
	assert.Empty(t, d.Fire)
	assert.Zero(t, d.Skipped)
	assert.Equal(t, utc("2025-01-06T03:00:00Z"), d.Next)
	// The slot itself is due at its second, and Next moves on.
	d = s.Due(utc("2025-01-06T02:00:00Z"), utc("2025-01-06T03:00:00Z"), 600*time.Second, 3)
	assert.Equal(t, []time.Time{utc("2025-01-06T03:00:00Z")}, d.Fire)
	assert.Equal(t, utc("2025-01-07T03:00:00Z"), d.Next)
	// Once handled, it is not due again.
	d = s.Due(utc("2025-01-06T03:00:00Z"), utc("2025-01-06T03:00:30Z"), 600*time.Second, 3)
	assert.Empty(t, d.Fire)
	// Friday's slot is followed by Monday's.
	d = s.Due(utc("2025-01-10T03:00:00Z"), utc("2025-01-10T04:00:00Z"), 0, 1)
	assert.Equal(t, utc("2025-01-13T03:00:00Z"), d.Next)
}

func TestDueCatchUpAndDeadline(t *testing.T) {
	hourly := mustParse(t, "0 * * * *", "UTC")
	last := utc("2025-01-01T00:00:00Z")
	now := utc("2025-01-01T10:30:00Z") // slots 01:00 ... 10:00 missed
	cases := []struct {
		name     string
		deadline time.Duration
		catchUp  int32
		fire     []string
		skipped  int64
	}{
		{"no deadline, catch up 3: the 3 newest, oldest first", 0, 3,
			[]string{"08:00", "09:00", "10:00"}, 7},
		{"catch up 0 counts as 1", 0, 0, []string{"10:00"}, 9},
		{"catch up more than missed", 0, 20,
			[]string{"01:00", "02:00", "03:00", "04:00", "05:00", "06:00", "07:00", "08:00", "09:00", "10:00"}, 0},
		{"deadline 2h: 08:30 is the boundary", 2 * time.Hour, 5, []string{"09:00", "10:00"}, 8},
		{"deadline exactly to a slot keeps it", 150 * time.Minute, 5, []string{"08:00", "09:00", "10:00"}, 7},
		{"deadline shorter than the age of every slot", 10 * time.Minute, 3, nil, 10},
	}
	for _, c := range cases {
		d := hourly.Due(last, now, c.deadline, c.catchUp)
		var fire []string
		for _, f := range d.Fire {
			fire = append(fire, f.Format("15:04"))
			assert.Equal(t, time.UTC, f.Location(), c.name)
		}
		assert.Equal(t, c.fire, fire, c.name)
		assert.Equal(t, c.skipped, d.Skipped, c.name)
		assert.False(t, d.SkippedEstimated, c.name)
		assert.Equal(t, utc("2025-01-01T11:00:00Z"), d.Next, c.name)
	}
}

// TestDueLongDowntime: a year of every-minute slots is not walked one by
// one, the newest slots are still found, and the count of the skipped ones
// is exact for a regular schedule.
func TestDueLongDowntime(t *testing.T) {
	s := mustParse(t, "* * * * *", "UTC")
	last := utc("2024-01-01T00:00:00Z")
	now := utc("2025-01-01T00:00:30Z") // 2024 has 366 days
	start := time.Now()
	d := s.Due(last, now, 0, 3)
	assert.Less(t, time.Since(start), 2*time.Second, "the walk is bounded")
	assert.Equal(t, []time.Time{utc("2024-12-31T23:58:00Z"), utc("2024-12-31T23:59:00Z"), utc("2025-01-01T00:00:00Z")}, d.Fire)
	assert.True(t, d.SkippedEstimated)
	assert.Equal(t, int64(366*24*60-3), d.Skipped)

	// With a deadline, the late slots are counted the same way.
	d = s.Due(last, now, 90*time.Second, 3)
	assert.Equal(t, []time.Time{utc("2024-12-31T23:59:00Z"), utc("2025-01-01T00:00:00Z")}, d.Fire)
	assert.Equal(t, int64(366*24*60-2), d.Skipped)

	// A weekday schedule is irregular: the estimate stays close.
	s = mustParse(t, "*/5 9-17 * * 1-5", "Europe/Berlin")
	d = s.Due(utc("2020-01-01T00:00:00Z"), utc("2025-01-01T00:00:00Z"), 0, 2)
	assert.Len(t, d.Fire, 2)
	assert.Equal(t, utc("2024-12-31T16:55:00Z"), d.Fire[1], "17:55 CET on Tuesday 31 December")
	// The exact count, by walking every slot.
	var exact int64
	for t := s.Next(utc("2020-01-01T00:00:00Z")); t.Before(utc("2025-01-01T00:00:00Z")); t = s.Next(t) {
		exact++
	}
	assert.InEpsilon(t, float64(exact-2), float64(d.Skipped), 0.05, "estimated %d, exactly %d", d.Skipped, exact-2)
	t.Logf("weekday schedule over 5 years: estimated %d skipped, exactly %d", d.Skipped, exact-2)
}

func TestDueNever(t *testing.T) {
	s := mustParse(t, "0 0 30 2 *", "UTC") // 30 February
	d := s.Due(utc("2025-01-01T00:00:00Z"), utc("2025-06-01T00:00:00Z"), 0, 1)
	assert.Empty(t, d.Fire)
	assert.Zero(t, d.Skipped)
	assert.True(t, d.Next.IsZero())
}

func TestDueEvery(t *testing.T) {
	s := mustParse(t, "@every 2s", "")
	created := utc("2025-01-01T00:00:00Z").Add(300 * time.Millisecond)
	// Slots are 2s apart from the creation time's second, whatever the
	// sub-second part: the same on every replica.
	clock := clocktesting.NewFakeClock(created)
	last := created
	var fired []time.Time
	for range 5 {
		clock.Step(2 * time.Second)
		d := s.Due(last, clock.Now(), 0, 1)
		require.Len(t, d.Fire, 1)
		fired = append(fired, d.Fire[0])
		last = d.Fire[0]
		assert.Equal(t, last.Add(2*time.Second), d.Next)
	}
	assert.Equal(t, []time.Time{
		utc("2025-01-01T00:00:02Z"), utc("2025-01-01T00:00:04Z"), utc("2025-01-01T00:00:06Z"),
		utc("2025-01-01T00:00:08Z"), utc("2025-01-01T00:00:10Z"),
	}, fired)

	// Between slots, nothing.
	d := s.Due(last, last.Add(1900*time.Millisecond), 0, 1)
	assert.Empty(t, d.Fire)
	assert.Zero(t, d.Skipped)

	// A long downtime is arithmetic: a year is counted exactly at once.
	d = s.Due(last, last.Add(365*24*time.Hour+time.Second), 4*time.Second, 3)
	n := int64(365 * 24 * 3600 / 2)
	assert.Equal(t, []time.Time{last.Add(time.Duration(n-1) * 2 * time.Second), last.Add(time.Duration(n) * 2 * time.Second)}, d.Fire,
		"the deadline of 4s keeps the slots at now-1s and now-3s")
	assert.Equal(t, n-2, d.Skipped)
	assert.False(t, d.SkippedEstimated)

	// Deadline exactly at a slot keeps it, as for cron slots.
	d = s.Due(last, last.Add(6*time.Second), 4*time.Second, 10)
	assert.Equal(t, []time.Time{last.Add(2 * time.Second), last.Add(4 * time.Second), last.Add(6 * time.Second)}, d.Fire)
	d = s.Due(last, last.Add(6*time.Second), 3*time.Second, 10)
	assert.Equal(t, []time.Time{last.Add(4 * time.Second), last.Add(6 * time.Second)}, d.Fire)
	assert.Equal(t, int64(1), d.Skipped)
}

func TestSlotName(t *testing.T) {
	slot := utc("2025-01-01T03:00:00Z")
	assert.Equal(t, "nightly-1735700400", SlotName("nightly", slot))
	// The same slot in another zone is the same name.
	berlin, _ := time.LoadLocation("Europe/Berlin")
	assert.Equal(t, "nightly-1735700400", SlotName("nightly", slot.In(berlin)))

	long := strings.Repeat("a", 60)
	n := SlotName(long, slot)
	assert.LessOrEqual(t, len(n), 63)
	assert.True(t, strings.HasSuffix(n, "-1735700400"), n)
	assert.NotEqual(t, n, SlotName(long+"b", slot), "a cut prefix is told apart by its hash")
	assert.Equal(t, n, SlotName(long, slot), "deterministic")

	// Dots and capitals cannot be in a label; a hash keeps "a.b" and "a-b" apart.
	assert.NotEqual(t, SlotName("a.b", slot), SlotName("a-b", slot))
	for _, p := range []string{"a.b", "UPPER", "-x-", "", "...", long, "ünï"} {
		n := SlotName(p, slot)
		assert.Regexp(t, `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, n, p)
		assert.LessOrEqual(t, len(n), 63, p)
	}
}
