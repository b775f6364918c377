package receiver

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strings"
)

// maxNameLength is the longest DNS-1123 label, the longest job name.
const maxNameLength = 63

// NameFor is the name of the job a trigger starts for an event:
// "<trigger>-<12 hex digits of the SHA-256 of the event's id>", a DNS-1123
// label of at most 63 characters. The same id always gives the same name,
// so a redelivered event starts nothing twice. A trigger name that does not
// fit or is not made of lowercase letters, digits and '-' is cut and
// cleaned and followed by a hash of the whole name, as
// pkg/trigger/schedule.SlotName does, so that two triggers never share a
// name by the cut alone.
func NameFor(trigger, eventID string) string {
	sum := sha256.Sum256([]byte(eventID))
	suffix := "-" + hex.EncodeToString(sum[:6])
	clean := labelChars(trigger)
	if clean == trigger && clean != "" && len(clean)+len(suffix) <= maxNameLength {
		return clean + suffix
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(trigger))
	hashed := fmt.Sprintf("-%08x%s", h.Sum32(), suffix)
	if room := maxNameLength - len(hashed); len(clean) > room {
		clean = clean[:room]
	}
	clean = strings.Trim(clean, "-")
	if clean == "" {
		return strings.TrimPrefix(hashed, "-")
	}
	return clean + hashed
}

// labelChars lowercases s, replaces what a DNS-1123 label cannot hold
// with '-' and trims '-' from both ends.
func labelChars(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			b[i] = '-'
		}
	}
	return strings.Trim(string(b), "-")
}
