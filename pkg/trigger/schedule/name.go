package schedule

import (
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/pkg/trigger/jobname"
)

// SlotName is the name of the job for slot: "<prefix>-<Unix seconds of the
// slot>", e.g. "nightly-1735700400", made by jobname.For: a DNS-1123 label
// of at most 63 characters that the same slot always gives.
func SlotName(prefix string, slot time.Time) string {
	return jobname.For(prefix, strconv.FormatInt(slot.Unix(), 10))
}
