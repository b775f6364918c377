package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"k8s.io/client-go/util/jsonpath"
)

// Provider is who sends a webhook.
type Provider string

const (
	GitHub  Provider = "GitHub"
	GitLab  Provider = "GitLab"
	Generic Provider = "Generic"
)

// Kind is what happened.
type Kind string

const (
	KindPush Kind = "push" // commits pushed to a branch
	KindTag  Kind = "tag"  // a tag pushed
)

// Event is a webhook request, verified and normalised.
type Event struct {
	Provider Provider
	// Kind is push or tag for GitHub and GitLab; empty for Generic.
	Kind Kind
	// Ref is the full ref, e.g. refs/heads/main or refs/tags/v1.2.0;
	// Branch or Tag is its short name.
	Ref    string
	Branch string
	Tag    string
	// Commit is the commit the ref now points at.
	Commit string
	// Repository is owner/name (GitHub) or the project's path with its
	// namespace (GitLab); CloneURL is its HTTP clone URL.
	Repository string
	CloneURL   string
	// Sender is who pushed.
	Sender string
	// DeliveryID identifies the delivery: X-GitHub-Delivery,
	// X-Gitlab-Event-UUID or X-Sluice-Delivery. A redelivery has the same.
	DeliveryID string
	// Body is the decoded JSON body, for Lookup.
	Body any
}

// Ignored is a request that is valid but not an event to fire on: a
// ping, a deleted branch, another kind of event. Reason says which, for
// the receiver's 202.
type Ignored struct{ Reason string }

func (i *Ignored) Error() string { return i.Reason }

// IsIgnored returns the reason when err is an Ignored.
func IsIgnored(err error) (string, bool) {
	var i *Ignored
	if errors.As(err, &i) {
		return i.Reason, true
	}
	return "", false
}

// zeroSHA is the commit of a deleted ref in GitHub's and GitLab's payloads.
const zeroSHA = "0000000000000000000000000000000000000000"

// githubPush is the part of GitHub's push payload we read.
type githubPush struct {
	Ref        string `json:"ref"`
	After      string `json:"after"`
	Deleted    bool   `json:"deleted"`
	Repository struct {
		FullName string `json:"full_name"`
		CloneURL string `json:"clone_url"`
	} `json:"repository"`
	Sender struct {
		Login string `json:"login"`
	} `json:"sender"`
	Pusher struct {
		Name string `json:"name"`
	} `json:"pusher"`
}

// ParseGitHub reads a GitHub delivery. Only push events are events; a ping
// and any other kind are Ignored, as is the deletion of a branch or tag.
func ParseGitHub(h http.Header, body []byte) (*Event, error) {
	kind := h.Get(HeaderGitHubEvent)
	switch kind {
	case "push":
	case "ping":
		return nil, &Ignored{Reason: "GitHub ping: the webhook is set up; nothing to run"}
	case "":
		return nil, fmt.Errorf("missing %s header", HeaderGitHubEvent)
	default:
		return nil, &Ignored{Reason: fmt.Sprintf("GitHub %q events do not trigger; only push does", kind)}
	}
	var p githubPush
	decoded, err := decode(body, &p)
	if err != nil {
		return nil, err
	}
	e := &Event{
		Provider:   GitHub,
		Ref:        p.Ref,
		Commit:     p.After,
		Repository: p.Repository.FullName,
		CloneURL:   p.Repository.CloneURL,
		Sender:     p.Sender.Login,
		DeliveryID: h.Get(HeaderGitHubDelivery),
		Body:       decoded,
	}
	if e.Sender == "" {
		e.Sender = p.Pusher.Name
	}
	if err := e.setRef(p.Deleted || p.After == zeroSHA); err != nil {
		return nil, err
	}
	return e, nil
}

// gitlabPush is the part of GitLab's Push Hook and Tag Push Hook payloads
// we read.
type gitlabPush struct {
	ObjectKind  string  `json:"object_kind"`
	Ref         string  `json:"ref"`
	After       string  `json:"after"`
	CheckoutSHA *string `json:"checkout_sha"`
	UserName    string  `json:"user_username"`
	Project     struct {
		PathWithNamespace string `json:"path_with_namespace"`
		HTTPURL           string `json:"git_http_url"`
	} `json:"project"`
}

// ParseGitLab reads a GitLab delivery: a Push Hook or a Tag Push Hook.
// Other hooks and deleted refs are Ignored.
func ParseGitLab(h http.Header, body []byte) (*Event, error) {
	kind := h.Get(HeaderGitLabEvent)
	switch kind {
	case "Push Hook", "Tag Push Hook":
	case "":
		return nil, fmt.Errorf("missing %s header", HeaderGitLabEvent)
	default:
		return nil, &Ignored{Reason: fmt.Sprintf("GitLab %q events do not trigger; only Push Hook and Tag Push Hook do", kind)}
	}
	var p gitlabPush
	decoded, err := decode(body, &p)
	if err != nil {
		return nil, err
	}
	e := &Event{
		Provider:   GitLab,
		Ref:        p.Ref,
		Commit:     p.After,
		Repository: p.Project.PathWithNamespace,
		CloneURL:   p.Project.HTTPURL,
		Sender:     p.UserName,
		DeliveryID: h.Get(HeaderGitLabEventUUID),
		Body:       decoded,
	}
	// checkout_sha is the commit checked out, null when the ref was deleted.
	if p.CheckoutSHA != nil && *p.CheckoutSHA != "" {
		e.Commit = *p.CheckoutSHA
	}
	if err := e.setRef(p.After == zeroSHA || (p.CheckoutSHA == nil && p.After == "")); err != nil {
		return nil, err
	}
	if (kind == "Tag Push Hook") != (e.Kind == KindTag) {
		return nil, fmt.Errorf("%s %q has ref %q", HeaderGitLabEvent, kind, e.Ref)
	}
	return e, nil
}

// ParseGeneric reads a generic webhook: any JSON body, for
// $(webhook.body.<jsonpath>).
func ParseGeneric(h http.Header, body []byte) (*Event, error) {
	decoded, err := decode(body, nil)
	if err != nil {
		return nil, err
	}
	return &Event{Provider: Generic, DeliveryID: h.Get(HeaderSluiceDelivery), Body: decoded}, nil
}

// setRef sets Kind, Branch and Tag from Ref.
func (e *Event) setRef(deleted bool) error {
	switch {
	case strings.HasPrefix(e.Ref, "refs/heads/"):
		e.Kind, e.Branch = KindPush, strings.TrimPrefix(e.Ref, "refs/heads/")
	case strings.HasPrefix(e.Ref, "refs/tags/"):
		e.Kind, e.Tag = KindTag, strings.TrimPrefix(e.Ref, "refs/tags/")
	case e.Ref == "":
		return errors.New("the push event has no ref")
	default:
		return &Ignored{Reason: fmt.Sprintf("ref %q is neither a branch nor a tag", e.Ref)}
	}
	if deleted {
		return &Ignored{Reason: fmt.Sprintf("%s was deleted; nothing to run", e.Ref)}
	}
	if e.Commit == "" {
		return errors.New("the push event has no commit")
	}
	return nil
}

// decode decodes body into into (if not nil) and returns it decoded
// generically, numbers kept as written.
func decode(body []byte, into any) (any, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, errors.New("the body is not JSON")
	}
	if d.More() {
		return nil, errors.New("the body is more than one JSON value")
	}
	if into != nil {
		if err := json.Unmarshal(body, into); err != nil {
			return nil, errors.New("the body is not a push event's JSON")
		}
	}
	return v, nil
}

// BodyPath compiles path, the part after "webhook.body." in a reference,
// as the JSONPath {.<path>}: "head_commit.id" is {.head_commit.id}.
func BodyPath(path string) (*jsonpath.JSONPath, error) {
	if path == "" {
		return nil, errors.New("empty JSONPath")
	}
	jp := jsonpath.New("webhook.body")
	if err := jp.Parse("{." + path + "}"); err != nil {
		return nil, fmt.Errorf("invalid JSONPath %q: %v", path, err)
	}
	return jp, nil
}

// Lookup returns the value at path (see BodyPath) in the event's body.
// Strings and numbers are given as written, objects and arrays as JSON,
// several matches separated by spaces. A path that matches nothing is an
// error: a param must not silently become empty.
func (e *Event) Lookup(path string) (string, error) {
	jp, err := BodyPath(path)
	if err != nil {
		return "", err
	}
	results, err := jp.FindResults(e.Body)
	if err != nil {
		return "", fmt.Errorf("webhook.body.%s: %v", path, err)
	}
	var out []string
	for _, rs := range results {
		for _, r := range rs {
			switch v := r.Interface().(type) {
			case string:
				out = append(out, v)
			case json.Number:
				out = append(out, v.String())
			case nil:
				out = append(out, "null")
			case bool:
				out = append(out, fmt.Sprint(v))
			default:
				b, err := json.Marshal(v)
				if err != nil {
					return "", fmt.Errorf("webhook.body.%s: %v", path, err)
				}
				out = append(out, string(b))
			}
		}
	}
	if len(out) == 0 {
		return "", fmt.Errorf("webhook.body.%s matches nothing in the body", path)
	}
	return strings.Join(out, " "), nil
}
