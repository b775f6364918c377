package kubectlsluice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/dashboard"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
)

const dashboardExample = `  # Serve the dashboard on a free port of 127.0.0.1 and print its URL
  kubectl sluice dashboard

  # On port 8080, and open it in the browser
  kubectl sluice dashboard --port 8080 --open

  # The dashboard of another namespace and cluster
  kubectl sluice dashboard -n shop --context production`

// DashboardOptions are the options of `kubectl sluice dashboard`.
type DashboardOptions struct {
	Port int
	Open bool

	namespace string
	sluice    sluiceclient.Interface
	kube      kubernetes.Interface
	genericiooptions.IOStreams
}

// NewDashboardCommand is `kubectl sluice dashboard`.
func NewDashboardCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DashboardOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "dashboard [--port PORT] [--open]",
		Short: "Serve a web page of the pipelines, jobs and live logs, with your credentials",
		Long: `Serve the Sluice dashboard on 127.0.0.1 until Ctrl-C: the pipelines of a namespace and
what each environment runs, the job history, each job's steps, approval gate and live
log, and the actions approve, reject, cancel, rerun and roll back.

The dashboard talks to the cluster with your kubeconfig, like every other command: it
shows and does exactly what RBAC lets you. It listens on the loopback address only, and
prints a URL with a random token: open that URL; the token is exchanged for a cookie,
and a request without it is refused, so other users of the machine cannot use it.`,
		Example:           dashboardExample,
		Args:              exactArgs(),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, cmd); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().IntVar(&o.Port, "port", 0, "The port to listen on, on 127.0.0.1; 0 picks a free one.")
	cmd.Flags().BoolVar(&o.Open, "open", false, "Open the URL in the browser (xdg-open or open).")
	return cmd
}

// Complete makes the clients and checks the port.
func (o *DashboardOptions) Complete(f *Factory, cmd *cobra.Command) error {
	if o.Port < 0 || o.Port > 65535 {
		return UsageErrorf(cmd, "--port %d: expected 0 to 65535", o.Port)
	}
	var err error
	if o.sluice, o.namespace, err = f.SluiceIn(); err != nil {
		return err
	}
	o.kube, err = f.Kube()
	return err
}

// Run listens, prints the URL and serves until ctx ends.
func (o *DashboardOptions) Run(ctx context.Context) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.Port)))
	if err != nil {
		return fmt.Errorf("listening on 127.0.0.1:%d: %w", o.Port, err)
	}
	s, err := dashboard.NewServer(dashboard.Config{
		Sluice: o.sluice, Kube: o.kube, Namespace: o.namespace, Addr: l.Addr().String(),
		Logs: func(ctx context.Context, ns, job string, follow bool, out io.Writer) error {
			// The dashboard shows the output as logs prints it; the
			// follower's notes of a broken stream are not shown.
			return newLogFollower(o.sluice, ns, job, v1alpha1.PipelineJobLogOptions{Follow: follow}, out, nil).Run(ctx)
		},
	})
	if err != nil {
		l.Close()
		return err
	}
	fmt.Fprintf(o.Out, "Serving the Sluice dashboard of namespace %s at\n%s\nPress Ctrl-C to stop.\n", o.namespace, s.URL())
	if o.Open {
		openBrowser(s.URL(), o.ErrOut)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		// Event streams stay open as long as the page does: they are cut.
		if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return ctx.Err()
	}
}

// openBrowser opens url with the platform's opener, when it has one; it
// says so when it cannot.
func openBrowser(url string, errOut io.Writer) {
	opener := "xdg-open"
	switch runtime.GOOS {
	case "darwin":
		opener = "open"
	case "windows":
		opener = "explorer"
	}
	path, err := exec.LookPath(opener)
	if err != nil {
		fmt.Fprintf(errOut, "--> cannot open a browser (%s not found): open the URL above\n", opener)
		return
	}
	cmd := exec.Command(path, url)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(errOut, "--> cannot open a browser (%v): open the URL above\n", err)
		return
	}
	go func() { _ = cmd.Wait() }()
}
