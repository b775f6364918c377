package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// SlashCommand is the form a Slack slash command posts.
type SlashCommand struct {
	Command     string // "/sluice"
	Text        string // what follows the command
	UserID      string // e.g. U024BE7LH, what allowedUsers lists
	UserName    string
	ResponseURL string // where later answers go
	TriggerID   string
	TeamID      string
	ChannelID   string
}

// ParseSlashCommand reads the form body of a slash command.
func ParseSlashCommand(body []byte) (*SlashCommand, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errors.New("the body is not a form (application/x-www-form-urlencoded)")
	}
	c := &SlashCommand{
		Command:     form.Get("command"),
		Text:        form.Get("text"),
		UserID:      form.Get("user_id"),
		UserName:    form.Get("user_name"),
		ResponseURL: form.Get("response_url"),
		TriggerID:   form.Get("trigger_id"),
		TeamID:      form.Get("team_id"),
		ChannelID:   form.Get("channel_id"),
	}
	if c.Command == "" || c.UserID == "" {
		return nil, errors.New("the form is not a slash command: command and user_id are required")
	}
	return c, nil
}

// Verb is what a command asks for.
type Verb string

const (
	VerbRun    Verb = "run"
	VerbStatus Verb = "status"
)

// Param is a key=value of a run command.
type Param struct {
	Name  string
	Value string
}

// Command is the text of a slash command, parsed.
type Command struct {
	Verb Verb
	// Pipeline, Environment and Params of run.
	Pipeline    string
	Environment string
	Params      []Param
	// Job of status.
	Job string
}

// Usage is the grammar, for answers to a malformed command.
const Usage = "usage: run <pipeline> [env=<environment>] [key=value ...] | status <job>"

// UsageError is a command that does not follow the grammar; its message
// says what is wrong and ends with Usage.
type UsageError struct{ Problem string }

func (e *UsageError) Error() string { return e.Problem + "; " + Usage }

// ParseCommand parses a slash command's text. Words are separated by
// spaces; values cannot contain spaces.
func ParseCommand(text string) (*Command, error) {
	words := strings.Fields(text)
	if len(words) == 0 {
		return nil, &UsageError{"no command"}
	}
	switch Verb(words[0]) {
	case VerbRun:
		return parseRun(words[1:])
	case VerbStatus:
		if len(words) != 2 {
			return nil, &UsageError{"status takes exactly one job name"}
		}
		if err := name("job", words[1]); err != nil {
			return nil, err
		}
		return &Command{Verb: VerbStatus, Job: words[1]}, nil
	default:
		return nil, &UsageError{fmt.Sprintf("unknown command %q", words[0])}
	}
}

func parseRun(words []string) (*Command, error) {
	if len(words) == 0 || strings.Contains(words[0], "=") {
		return nil, &UsageError{"run needs a pipeline name first"}
	}
	c := &Command{Verb: VerbRun, Pipeline: words[0]}
	if err := name("pipeline", c.Pipeline); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, w := range words[1:] {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, &UsageError{fmt.Sprintf("%q is not key=value", w)}
		}
		if seen[k] {
			return nil, &UsageError{fmt.Sprintf("%s is given twice", k)}
		}
		seen[k] = true
		if k == "env" {
			if err := name("environment", v); err != nil {
				return nil, err
			}
			c.Environment = v
			continue
		}
		if errs := validation.IsCIdentifier(k); len(errs) > 0 {
			return nil, &UsageError{fmt.Sprintf("%q is not a valid param name: %s", k, strings.Join(errs, ", "))}
		}
		c.Params = append(c.Params, Param{Name: k, Value: v})
	}
	return c, nil
}

// name checks an object name the command names.
func name(what, s string) error {
	if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
		return &UsageError{fmt.Sprintf("%q is not a valid %s name: %s", s, what, strings.Join(errs, ", "))}
	}
	return nil
}
