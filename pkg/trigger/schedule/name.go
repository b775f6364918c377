package schedule

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// maxLabelLength is the longest DNS-1123 label.
const maxLabelLength = 63

// SlotName is the name of the job for slot: "<prefix>-<Unix seconds of the
// slot>", e.g. "nightly-1735700400". It is a DNS-1123 label of at most 63
// characters. A prefix that is too long, or that is not made of lowercase
// letters, digits and '-' (a trigger's name may contain '.'), is cut and
// cleaned and followed by a hash of the whole prefix, so that two prefixes
// never share a name by the cut alone.
func SlotName(prefix string, slot time.Time) string {
	suffix := "-" + strconv.FormatInt(slot.Unix(), 10)
	clean := labelChars(prefix)
	if clean == prefix && clean != "" && len(clean)+len(suffix) <= maxLabelLength {
		return clean + suffix
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(prefix))
	hashed := fmt.Sprintf("-%08x%s", h.Sum32(), suffix)
	if room := maxLabelLength - len(hashed); len(clean) > room {
		clean = clean[:room]
	}
	clean = strings.Trim(clean, "-")
	if clean == "" {
		return strings.TrimPrefix(hashed, "-")
	}
	return clean + hashed
}

// labelChars lowercases s and replaces every character that a DNS-1123
// label cannot hold with '-', then trims '-' from both ends.
func labelChars(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			b[i] = '-'
		}
	}
	return strings.Trim(string(b), "-")
}
