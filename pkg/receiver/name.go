package receiver

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/sluice-dev/sluice/pkg/trigger/jobname"
)

// NameFor is the name of the job a trigger starts for an event:
// "<trigger>-<12 hex digits of the SHA-256 of the event's id>", made by
// jobname.For. The same id always gives the same name, so a redelivered
// event starts nothing twice.
func NameFor(trigger, eventID string) string {
	sum := sha256.Sum256([]byte(eventID))
	return jobname.For(trigger, hex.EncodeToString(sum[:6]))
}
