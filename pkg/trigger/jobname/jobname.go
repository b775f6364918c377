// Package jobname makes the names of the jobs a trigger starts: the
// trigger's name and an event's id, a DNS-1123 label that the same event
// always gives, so that the API's AlreadyExists keeps an event seen twice
// from starting two jobs.
package jobname

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strings"
)

// MaxLength is the longest DNS-1123 label, the longest job name.
const MaxLength = 63

// For is "<prefix>-<event>", a DNS-1123 label of at most MaxLength
// characters; event is made of lowercase letters, digits and '-' and
// short enough to leave room. A prefix that is too long, or not made of
// those characters (a trigger's name may hold '.'), is cut and cleaned and
// followed by a hash of the whole prefix, so that two prefixes never share
// a name by the cut alone.
func For(prefix, event string) string {
	suffix := "-" + event
	clean := labelChars(prefix)
	if clean == prefix && clean != "" && len(clean)+len(suffix) <= MaxLength {
		return clean + suffix
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(prefix))
	hashed := fmt.Sprintf("-%08x%s", h.Sum32(), suffix)
	if room := MaxLength - len(hashed); len(clean) > room {
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

// ForEvent is the name of the job a trigger starts for an event with an
// opaque id (a delivery id, a Slack trigger_id, an image's repository, tag
// and digest): "<trigger>-<12 hex digits of the SHA-256 of the id>", made
// by For. The same id always gives the same name.
func ForEvent(trigger, eventID string) string {
	sum := sha256.Sum256([]byte(eventID))
	return For(trigger, hex.EncodeToString(sum[:6]))
}
