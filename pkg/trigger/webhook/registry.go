package webhook

import (
	"encoding/json"
	"fmt"
)

// RegistryMediaType is the Content-Type of a distribution registry's
// notification envelope.
const RegistryMediaType = "application/vnd.docker.distribution.events.v1+json"

// RegistryEvent is one event of a distribution registry's notification
// envelope ({"events": [...]}), with the fields a trigger reads. A push of
// a manifest by tag has Action "push" and Target.Tag set; layer pushes,
// pushes by digest, pulls and deletes are events too.
type RegistryEvent struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Target struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		// Repository is the repository's path in the registry, without
		// the host: "team/web".
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	} `json:"target"`
	Request struct {
		// Host is the Host the client pushed to.
		Host string `json:"host"`
	} `json:"request"`
}

// Registry actions.
const (
	RegistryPush = "push"
)

// ParseRegistry parses a notification envelope. An envelope without
// events is not an error: the registry sends nothing to fire on.
func ParseRegistry(body []byte) ([]RegistryEvent, error) {
	var envelope struct {
		Events []RegistryEvent `json:"events"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil {
		return nil, fmt.Errorf("the body is not a registry notification envelope: %v", err)
	}
	return envelope.Events, nil
}

// TagPushes returns the tags pushed to repository (a path, "team/web")
// among events, in order, each once, and the id of the first such event.
func TagPushes(events []RegistryEvent, repository string) (tags []string, firstID string) {
	seen := map[string]bool{}
	for _, e := range events {
		if e.Action != RegistryPush || e.Target.Tag == "" || e.Target.Repository != repository || seen[e.Target.Tag] {
			continue
		}
		if firstID == "" {
			firstID = e.ID
		}
		seen[e.Target.Tag] = true
		tags = append(tags, e.Target.Tag)
	}
	return tags, firstID
}
