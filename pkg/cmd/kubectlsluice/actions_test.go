package kubectlsluice

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

func TestFireRequest(t *testing.T) {
	tr := &v1alpha1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
		Spec: v1alpha1.TriggerSpec{
			PipelineRef: v1alpha1.PipelineReference{Name: "release"},
			Environment: "staging",
			Params: []v1alpha1.Param{
				{Name: "version", Value: "nightly-$(schedule.time)"},
				{Name: "channel", Value: "nightly"},
				{Name: "script", Value: "echo $$(schedule.time) $(HOME)"},
			},
			Schedule: &v1alpha1.ScheduleSource{Cron: "0 3 * * *"},
		},
	}

	_, err := fireRequest(tr, nil)
	want := "trigger nightly's params version (nightly-$(schedule.time)) refer to its schedule's slot, which only an event fills in: give them with -p NAME=VALUE"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}

	req, err := fireRequest(tr, map[string]string{"version": "1.4.2", "zone": "eu", "channel": "beta"})
	if err != nil {
		t.Fatal(err)
	}
	wantReq := &v1alpha1.RunRequest{
		Environment: "staging",
		Trigger:     &v1alpha1.JobTrigger{Type: v1alpha1.TriggerManual, Name: "nightly", Detail: firedByHand},
		Params: []v1alpha1.Param{
			{Name: "version", Value: "1.4.2"},
			{Name: "channel", Value: "beta"},
			// As the trigger's event leaves it: the escape is the job's
			// to undo, as params.Expand does for an event.
			{Name: "script", Value: "echo $$(schedule.time) $(HOME)"},
			{Name: "zone", Value: "eu"},
		},
	}
	// Compared field by field: %+v of a RunRequest prints what its
	// String method chooses (the embedded TypeMeta's, before the types
	// had protobuf's), which hid a wrong expectation here.
	if !reflect.DeepEqual(req, wantReq) {
		t.Errorf("got  %#v %#v\nwant %#v %#v", req, *req.Trigger, wantReq, *wantReq.Trigger)
	}
}

// run runs `kubectl sluice args...` with no cluster, for what is decided
// before one is asked.
func run(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := NewCommand(streams)
	cmd.SetArgs(append([]string{"--kubeconfig=/nonexistent"}, args...))
	code = Execute(cmd, streams)
	return out.String(), errOut.String(), code
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"reject", "release-x7k2p"}, "Error: a rejection needs a message: -m MESSAGE says why, and the job fails with it\nSee 'kubectl sluice reject --help' for usage.\n"},
		{[]string{"approve"}, "Error: expected JOB, got 0 argument(s)\nSee 'kubectl sluice approve --help' for usage.\n"},
		{[]string{"cancel", "a", "b"}, "Error: expected JOB, got 2 argument(s)\nSee 'kubectl sluice cancel --help' for usage.\n"},
		{[]string{"rollback"}, "Error: expected PIPELINE, got 0 argument(s)\nSee 'kubectl sluice rollback --help' for usage.\n"},
		{[]string{"trigger", "fire"}, "Error: expected TRIGGER, got 0 argument(s)\nSee 'kubectl sluice trigger fire --help' for usage.\n"},
		{[]string{"version", "-o", "wide"}, "Error: --output \"wide\": expected json or yaml\nSee 'kubectl sluice version --help' for usage.\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, code := run(tc.args...)
			if code != ExitUsage || stderr != tc.want {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2, stderr:\n%s", code, stderr, tc.want)
			}
		})
	}
}

func TestVersionClient(t *testing.T) {
	stdout, stderr, code := run("version", "--client")
	if code != ExitOK || !strings.HasPrefix(stdout, "Client Version: ") || strings.Contains(stdout, "Server") || stderr != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	stdout, _, code = run("version", "--client", "-o", "json")
	if code != ExitOK || !strings.Contains(stdout, `"clientVersion": {`) || strings.Contains(stdout, "ServerVersion") {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}
