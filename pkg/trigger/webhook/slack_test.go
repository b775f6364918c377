package webhook

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSlashCommand(t *testing.T) {
	body := []byte("token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example&channel_id=C2147483705&channel_name=test&user_id=U2147483697&user_name=Steve&command=%2Fsluice&text=run+release+env%3Dstaging+version%3D1.3.0&api_app_id=A123456&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1234%2F5678&trigger_id=13345224609.738474920.8088930838d88f008e0")
	c, err := ParseSlashCommand(body)
	require.NoError(t, err)
	assert.Equal(t, SlashCommand{
		Command: "/sluice", Text: "run release env=staging version=1.3.0", UserID: "U2147483697", UserName: "Steve",
		ResponseURL: "https://hooks.slack.com/commands/1234/5678", TriggerID: "13345224609.738474920.8088930838d88f008e0",
		TeamID: "T0001", ChannelID: "C2147483705",
	}, *c)

	_, err = ParseSlashCommand([]byte("text=run"))
	assert.ErrorContains(t, err, "command and user_id are required")
	_, err = ParseSlashCommand([]byte("%zz"))
	assert.ErrorContains(t, err, "not a form")
}

func TestParseCommand(t *testing.T) {
	good := []struct {
		text string
		want Command
	}{
		{"run release", Command{Verb: VerbRun, Pipeline: "release"}},
		{"  run   release   env=staging  version=1.3.0 image=reg/x@sha256:ab  ", Command{Verb: VerbRun, Pipeline: "release", Environment: "staging",
			Params: []Param{{"version", "1.3.0"}, {"image", "reg/x@sha256:ab"}}}},
		{"run release note=", Command{Verb: VerbRun, Pipeline: "release", Params: []Param{{"note", ""}}}},
		{"run release url=a=b", Command{Verb: VerbRun, Pipeline: "release", Params: []Param{{"url", "a=b"}}}},
		{"status release-7", Command{Verb: VerbStatus, Job: "release-7"}},
	}
	for _, c := range good {
		got, err := ParseCommand(c.text)
		if assert.NoError(t, err, c.text) {
			assert.Equal(t, c.want, *got, c.text)
		}
	}
	bad := []struct{ text, want string }{
		{"", "no command"},
		{"help", `unknown command "help"`},
		{"deploy release", `unknown command "deploy"`},
		{"run", "run needs a pipeline name first"},
		{"run env=staging", "run needs a pipeline name first"},
		{"run Release", `"Release" is not a valid pipeline name`},
		{"run release staging", `"staging" is not key=value`},
		{"run release =x", `"=x" is not key=value`},
		{"run release env=a env=b", "env is given twice"},
		{"run release v=1 v=2", "v is given twice"},
		{"run release env=Prod_1", `"Prod_1" is not a valid environment name`},
		{"run release my-param=1", `"my-param" is not a valid param name`},
		{"status", "status takes exactly one job name"},
		{"status a b", "status takes exactly one job name"},
		{"status ../x", `"../x" is not a valid job name`},
	}
	for _, c := range bad {
		_, err := ParseCommand(c.text)
		var usage *UsageError
		if assert.ErrorAs(t, err, &usage, c.text) {
			assert.Contains(t, err.Error(), c.want, c.text)
			assert.Contains(t, err.Error(), Usage, c.text)
		}
	}
}
