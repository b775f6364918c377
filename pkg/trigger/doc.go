// Package trigger holds nothing itself: its subpackages are the pure,
// API-independent building blocks of Triggers, which the controller and the
// hook receiver wire together.
//
//   - schedule: cron schedules in a time zone, the slots due after a
//     downtime (catch-up and deadline), and a slot's deterministic job name.
//   - webhook: signature checks for GitHub, GitLab, Generic (Sluice's own
//     notification scheme) and Slack requests; GitHub and GitLab push and tag
//     events normalised into one Event; branch and tag filters; Slack slash
//     commands and their grammar.
//   - imagepolicy: the newest tag of a repository under a semver or pattern
//     policy, and whether a new observation fires.
//   - params: the $(image.*), $(schedule.*), $(webhook.*) and $(slack.*)
//     references a trigger's params may use, their validation and expansion,
//     and the pipelines/run request of an event (Run), which the trigger
//     loop and the receiver both send.
//   - jobname: the deterministic name of the job of an event, from its id.
//   - metrics: sluice_trigger_events_total, counted by the controller's
//     trigger loop and the hook receiver alike.
//   - imagewatch: reads an image source's registry (the newest tag its
//     policy selects, and its digest) and decides whether an observation is
//     a baseline or fires a job.
//
// Only imagewatch talks to the network, through the transport it is given.
package trigger
