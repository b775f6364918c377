package sluice

// Finished reports whether a job in phase p has ended for good.
func (p JobPhase) Finished() bool {
	return p == JobSucceeded || p == JobFailed || p == JobCancelled
}
