// Package schedule is the `schedule` source of a Trigger: a cron expression
// in an IANA time zone, and the rule that decides which slots fire after the
// controller looked away for a while.
//
// # Syntax
//
// Parse accepts the five-field standard cron syntax of
// github.com/robfig/cron/v3 (the library the Kubernetes CronJob controller
// uses) and its descriptors: @yearly, @annually, @monthly, @weekly, @daily,
// @midnight, @hourly and @every <duration> (e.g. @every 30s; at least one
// second, fractions of a second are dropped). The time zone is its own field:
// a CRON_TZ= or TZ= prefix inside the expression is rejected. An empty time
// zone means UTC, never the machine's local zone, so that every replica and
// every machine computes the same slots; "Local" is rejected for the same
// reason.
//
// The package imports time/tzdata, so every binary that links it carries the
// IANA time zone database and does not depend on /usr/share/zoneinfo in its
// image.
//
// # Daylight saving time
//
// A cron expression is matched against the wall clock of its time zone, as
// robfig/cron does it. Around a DST change that means, for example for
// "30 2 * * *" in Europe/Berlin:
//
//   - Spring forward (last Sunday of March, 02:00 becomes 03:00): 02:30 does
//     not exist that day, and that day has no slot. The schedule fires at
//     02:30 the day before and the day after, never at 03:30 instead.
//   - Fall back (last Sunday of October, 03:00 becomes 02:00): 02:30 happens
//     twice, and both are slots, one hour apart: 00:30 and 01:30 UTC.
//
// @every schedules ignore the wall clock: they are a fixed duration apart in
// absolute time.
//
// # Slots after a downtime
//
// Due takes the last slot handled (or the trigger's creation time), the
// current time, the starting deadline and catchUp. Of the slots missed in
// between, it fires the newest catchUp that are still within the deadline,
// oldest first; the rest are skipped and counted. catchUp below 1 counts as
// 1 (the newest missed slot runs, as with a CronJob) and above MaxCatchUp
// as MaxCatchUp.
//
// The walk is bounded. @every slots are counted by arithmetic, exactly, in
// constant time. Cron slots are walked one by one up to MaxWalk of them;
// when more remain, the walk jumps ahead to about MaxWalk/2 average intervals
// before now, adds the slots it jumped over as estimated from the average
// interval walked so far, and sets Due.SkippedEstimated. The estimate is
// exact for schedules with a constant interval (every N minutes, hourly,
// daily) and off by the irregularity of the schedule otherwise: a few
// percent for weekday or day-of-month schedules (3.5% for five years of
// "*/5 9-17 * * 1-5" in the tests). The
// slots fired are always real slots of the schedule, so their names are
// deterministic. A burst schedule that is dense only in rare windows (every
// minute on the 1st of the month) may fire fewer than catchUp slots after a
// jump. Unlike the CronJob controller, which stops after 100 missed slots
// and starts nothing, Due always finds the newest slots.
//
// # Slot names
//
// SlotName gives a job a name derived from its slot: the prefix (the
// trigger's name) and the slot's Unix time in seconds, so that every replica
// and every restart names the same slot's job the same, and the API's
// AlreadyExists proves a slot has fired.
package schedule
