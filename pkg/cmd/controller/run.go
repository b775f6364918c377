package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics/legacyregistry"
	// rest_client_* (requests, latency, client-side rate limiter waits)
	// and the leader election metrics, as kube-controller-manager has.
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	"k8s.io/klog/v2"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/controller"
	"github.com/sluice-dev/sluice/pkg/egress"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
	sluicescheme "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/scheme"
	sluiceinformers "github.com/sluice-dev/sluice/pkg/generated/informers/externalversions"
	"github.com/sluice-dev/sluice/pkg/receiver"
)

// Options are the flags of sluice-controller.
type Options struct {
	Kubeconfig   string
	Instance     string
	KubeAPIQPS   float32
	KubeAPIBurst int
	// KubeAPIContentType is the media type of request bodies and the
	// preferred one of responses, as kube-controller-manager's flag of
	// the same name.
	KubeAPIContentType string
	Workers            int
	Resync             time.Duration
	RetryBackoff       time.Duration
	MaxRetryBackoff    time.Duration
	NotifyWorkers      int
	NotifyTimeout      time.Duration
	NotifyMaxAttempts  int32
	NotifyBackoff      time.Duration
	LogCopyWorkers     int
	BindAddress        string
	// Profiling serves Go's pprof handlers under /debug/pprof on the
	// BindAddress listener.
	Profiling       bool
	ReceiverAddress string
	// EgressAllowCIDRs and EgressDenyCIDRs make the egress policy of the
	// requests made for users (Egress, filled in by Validate).
	EgressAllowCIDRs []string
	EgressDenyCIDRs  []string
	Egress           *egress.Policy
	// SlackResponseHosts are where the receiver may post a Slack
	// command's job result (receiver.SlackReplyOptions.ResponseHosts).
	SlackResponseHosts []string

	LeaderElect         bool
	LeaseNamespace      string
	LeaseName           string
	LeaseDuration       time.Duration
	RenewDeadline       time.Duration
	RetryPeriod         time.Duration
	LeaderElectIdentity string
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		// Per API client: one for the core API, one for sluice.dev. A job
		// costs about 27 requests (hack/bench -controller-only), so 500/s
		// keeps the limit out of the way of the jobs a large cluster runs;
		// API Priority and Fairness is what protects the servers.
		KubeAPIQPS:   500,
		KubeAPIBurst: 1000,
		// Protobuf, as kube-controller-manager: sluice-apiserver serves
		// it for sluice.dev (a custom resource cannot), and decoding it
		// took a fifth off the controller's CPU per job
		// (docs/benchmarks.md).
		KubeAPIContentType: runtime.ContentTypeProtobuf,
		// A sync mostly waits on its API requests, so throughput comes
		// from running many at once, as Argo Workflows' 32 workflow
		// workers do.
		Workers:           32,
		Resync:            10 * time.Minute,
		RetryBackoff:      10 * time.Second,
		MaxRetryBackoff:   5 * time.Minute,
		NotifyWorkers:     2,
		NotifyTimeout:     10 * time.Second,
		NotifyMaxAttempts: 5,
		NotifyBackoff:     2 * time.Second,
		LogCopyWorkers:    16, // 4 copies per 2-step job; each streams one container's output
		BindAddress:       ":8080",
		ReceiverAddress:   ":8090",
		LeaderElect:       true,
		LeaseNamespace:    "sluice-system",
		LeaseDuration:     15 * time.Second,
		RenewDeadline:     10 * time.Second,
		RetryPeriod:       2 * time.Second,

		SlackResponseHosts: slices.Clone(receiver.DefaultSlackResponseHosts),
	}
}

// AddFlags adds the flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Path to a kubeconfig; in-cluster configuration when empty.")
	fs.StringVar(&o.Instance, "instance", o.Instance, "Run only the PipelineJobs labelled sluice.dev/controller-instance=<instance>; when empty, only those without the label. The Lease is named after it.")
	fs.Float32Var(&o.KubeAPIQPS, "kube-api-qps", o.KubeAPIQPS, "Requests per second to the API server, sustained, of each of the two clients (the core API and sluice.dev).")
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst, "Requests to the API server in a burst, of each of the two clients.")
	fs.StringVar(&o.KubeAPIContentType, "kube-api-content-type", o.KubeAPIContentType, "Media type of the requests sent to the API server, and the one preferred for its answers (JSON is accepted too): application/vnd.kubernetes.protobuf or application/json. Use JSON while sluice-apiserver is older than this controller: before 2026-12 it did not take protobuf.")
	fs.IntVar(&o.Workers, "workers", o.Workers, "PipelineJobs synced concurrently.")
	fs.DurationVar(&o.Resync, "resync", o.Resync, "How often every job is synced even without a change.")
	fs.DurationVar(&o.RetryBackoff, "retry-backoff", o.RetryBackoff, "Wait before a step's second attempt; it doubles with each further attempt.")
	fs.DurationVar(&o.MaxRetryBackoff, "max-retry-backoff", o.MaxRetryBackoff, "Longest wait between attempts of a step.")
	fs.IntVar(&o.NotifyWorkers, "notify-workers", o.NotifyWorkers, "Webhook notifications delivered concurrently.")
	fs.DurationVar(&o.NotifyTimeout, "notify-timeout", o.NotifyTimeout, "Timeout of one webhook delivery attempt.")
	fs.Int32Var(&o.NotifyMaxAttempts, "notify-max-attempts", o.NotifyMaxAttempts, "Delivery attempts before a notification is Failed.")
	fs.DurationVar(&o.NotifyBackoff, "notify-backoff", o.NotifyBackoff, "Wait before the second delivery attempt; it doubles with each further attempt.")
	fs.IntVar(&o.LogCopyWorkers, "log-copy-workers", o.LogCopyWorkers, "Actions' outputs copied to the log archive concurrently.")
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "Address of the /healthz and /metrics endpoints.")
	fs.BoolVar(&o.Profiling, "profiling", o.Profiling, "Serve Go's profiles under /debug/pprof on the --bind-address listener, beside /metrics. Off by default: that listener has no authentication, and whoever reaches it could take CPU profiles and traces at will (kube-controller-manager serves its profiles behind authentication).")
	fs.StringVar(&o.ReceiverAddress, "receiver-address", o.ReceiverAddress, "Address of the trigger receiver, POST /hooks/<namespace>/<trigger> and /readyz, served by every replica, leader or not. Plain HTTP: TLS ends at the Ingress. Empty: no receiver.")
	fs.StringSliceVar(&o.EgressAllowCIDRs, "egress-allow-cidrs", o.EgressAllowCIDRs, "CIDRs that notifications and other requests made for users may connect to although the egress policy refuses them by default (loopback, link-local, private, CGNAT, multicast, broadcast, unspecified), e.g. an in-cluster webhook's Service range.")
	fs.StringSliceVar(&o.EgressDenyCIDRs, "egress-deny-cidrs", o.EgressDenyCIDRs, "CIDRs that requests made for users may never connect to, even when --egress-allow-cidrs holds them.")
	fs.StringSliceVar(&o.SlackResponseHosts, "slack-response-hosts", o.SlackResponseHosts, "Where the receiver posts the result of a job a Slack command started: scheme://host[:port] entries that a command's response_url must match (any port when none is given). Empty: results are not posted.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Run only while holding the Lease, so that several replicas are safe.")
	fs.StringVar(&o.LeaseNamespace, "leader-elect-namespace", o.LeaseNamespace, "Namespace of the Lease.")
	fs.StringVar(&o.LeaseName, "leader-elect-name", o.LeaseName, "Name of the Lease; sluice-controller, or sluice-controller-<instance> with --instance, when empty.")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", o.LeaseDuration, "How long a leader's Lease lasts without renewal.")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", o.RenewDeadline, "How long the leader tries to renew before it steps down.")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", o.RetryPeriod, "How often candidates try to acquire or renew the Lease.")
	fs.StringVar(&o.LeaderElectIdentity, "leader-elect-identity", o.LeaderElectIdentity, "Identity in the Lease; the hostname and a random suffix when empty.")
}

// NewCommand returns the sluice-controller command.
func NewCommand(ctx context.Context) *cobra.Command {
	o := NewOptions()
	cmd := &cobra.Command{
		Use:          "sluice-controller",
		Short:        "Run PipelineJobs as Pods: ordered steps, retries, timeouts, cancellation, status, Events and webhooks; start the jobs of schedule Triggers",
		SilenceUsage: true,
		RunE: func(c *cobra.Command, _ []string) error {
			return o.Run(c.Context())
		},
	}
	cmd.SetContext(ctx)
	o.AddFlags(cmd.Flags())
	return cmd
}

// Validate checks the flags and fills in the ones derived from others.
func (o *Options) Validate() error {
	var errs []error
	if o.Instance != "" {
		for _, msg := range validation.IsValidLabelValue(o.Instance) {
			errs = append(errs, fmt.Errorf("--instance: %s", msg))
		}
	}
	if o.Workers < 1 {
		errs = append(errs, errors.New("--workers must be at least 1"))
	}
	if o.KubeAPIContentType != runtime.ContentTypeProtobuf && o.KubeAPIContentType != runtime.ContentTypeJSON {
		errs = append(errs, fmt.Errorf("--kube-api-content-type: %q is not %s or %s", o.KubeAPIContentType, runtime.ContentTypeProtobuf, runtime.ContentTypeJSON))
	}
	if o.LogCopyWorkers < 1 {
		errs = append(errs, errors.New("--log-copy-workers must be at least 1"))
	}
	if o.RetryBackoff <= 0 || o.MaxRetryBackoff < o.RetryBackoff {
		errs = append(errs, errors.New("--retry-backoff must be positive and at most --max-retry-backoff"))
	}
	egressPolicy, err := egress.Parse(o.EgressAllowCIDRs, o.EgressDenyCIDRs)
	if err != nil {
		errs = append(errs, fmt.Errorf("--egress-allow-cidrs/--egress-deny-cidrs: %w", err))
	}
	o.Egress = egressPolicy
	if o.LeaseName == "" {
		o.LeaseName = "sluice-controller"
		if o.Instance != "" {
			o.LeaseName += "-" + o.Instance
		}
	}
	return errors.Join(errs...)
}

// Run runs the controller until ctx ends or leadership is lost.
func (o *Options) Run(ctx context.Context) error {
	if err := o.Validate(); err != nil {
		return err
	}
	klog.InfoS("egress policy of requests made for users: loopback, link-local, private, CGNAT, multicast, broadcast and unspecified addresses refused",
		"allowed", o.EgressAllowCIDRs, "denied", o.EgressDenyCIDRs)
	cfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return fmt.Errorf("client configuration: %w", err)
	}
	cfg.UserAgent = "sluice-controller"
	cfg.QPS, cfg.Burst = o.KubeAPIQPS, o.KubeAPIBurst
	cfg.ContentType = o.KubeAPIContentType
	cfg.AcceptContentTypes = o.KubeAPIContentType
	if o.KubeAPIContentType != runtime.ContentTypeJSON {
		cfg.AcceptContentTypes += "," + runtime.ContentTypeJSON
	}
	cfg.Wrap(countRequests)
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	sluice, err := sluiceclient.NewForConfig(cfg)
	if err != nil {
		return err
	}

	var elector *leaderelection.LeaderElector
	mux := http.NewServeMux()
	mux.Handle("/metrics", legacyregistry.Handler())
	if o.Profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	watchdog := leaderelection.NewLeaderHealthzAdaptor(20 * time.Second)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := watchdog.Check(r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	l, err := net.Listen("tcp", o.BindAddress)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.BindAddress, err)
	}
	klog.InfoS("serving /healthz and /metrics", "address", l.Addr().String(), "profiling", o.Profiling)
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(l) }()
	defer server.Close()

	if o.ReceiverAddress != "" {
		stop, err := o.startReceiver(ctx, kube, sluice)
		if err != nil {
			return err
		}
		defer stop()
	}

	run := func(ctx context.Context) {
		if err := o.runController(ctx, kube, sluice); err != nil && !errors.Is(err, context.Canceled) {
			klog.ErrorS(err, "controller stopped")
		}
	}
	if !o.LeaderElect {
		run(ctx)
		return nil
	}
	id := o.LeaderElectIdentity
	if id == "" {
		host, _ := os.Hostname()
		id = host + "_" + uuid.NewString()
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: o.LeaseNamespace, Name: o.LeaseName},
		Client:     kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	elector, err = leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   o.LeaseDuration,
		RenewDeadline:   o.RenewDeadline,
		RetryPeriod:     o.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            o.LeaseName,
		WatchDog:        watchdog,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: run,
			OnStoppedLeading: func() { klog.InfoS("no longer the leader", "identity", id) },
			OnNewLeader:      func(leader string) { klog.InfoS("leader", "identity", leader, "me", leader == id) },
		},
	})
	if err != nil {
		return err
	}
	klog.InfoS("waiting to become the leader", "lease", o.LeaseNamespace+"/"+o.LeaseName, "identity", id)
	elector.Run(ctx)
	if ctx.Err() == nil {
		// Leadership lost while running: stop, so that a restart starts
		// again from a clean state as a candidate.
		return errors.New("leadership lost")
	}
	return nil
}

// startReceiver serves the trigger receiver until stop is called. It runs
// outside leader election, in every replica, with a Trigger informer of
// its own: the leader's informers start only once it leads.
func (o *Options) startReceiver(ctx context.Context, kube kubernetes.Interface, sluice sluiceclient.Interface) (stop func(), err error) {
	if err := sluicescheme.AddToScheme(scheme.Scheme); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartStructuredLogging(2)
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "sluice-receiver"})
	informers := sluiceinformers.NewSharedInformerFactory(sluice, o.Resync)
	// The jobs whose results Slack commands are owed: only jobs Triggers
	// started, so that a replica does not hold every job of the cluster;
	// none when no results are posted.
	jobInformers := sluiceinformers.NewSharedInformerFactoryWithOptions(sluice, o.Resync,
		sluiceinformers.WithTweakListOptions(func(lo *metav1.ListOptions) { lo.LabelSelector = v1alpha1.LabelTrigger }))
	opts := receiver.DefaultOptions()
	opts.RegistryTransport = o.Egress.Transport()
	if len(o.SlackResponseHosts) > 0 {
		opts.SlackReplies, err = receiver.NewSlackReplies(jobInformers.Sluice().V1alpha1().PipelineJobs(), receiver.SlackReplyOptions{
			Client:        &http.Client{Timeout: 10 * time.Second, Transport: o.Egress.Transport()},
			ResponseHosts: o.SlackResponseHosts,
		})
	}
	var rcv *receiver.Receiver
	if err == nil {
		rcv, err = receiver.New(informers.Sluice().V1alpha1().Triggers(), kube, sluice, recorder, opts)
	}
	if err != nil {
		cancel()
		broadcaster.Shutdown()
		return nil, err
	}
	l, err := net.Listen("tcp", o.ReceiverAddress)
	if err != nil {
		cancel()
		broadcaster.Shutdown()
		return nil, fmt.Errorf("listening on %s: %w", o.ReceiverAddress, err)
	}
	informers.Start(ctx.Done())
	jobInformers.Start(ctx.Done())
	klog.InfoS("serving the trigger receiver", "address", l.Addr().String())
	server := &http.Server{Handler: rcv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	go func() { _ = server.Serve(l) }()
	return func() {
		_ = server.Close()
		cancel()
		informers.Shutdown()
		jobInformers.Shutdown()
		broadcaster.Shutdown()
	}, nil
}

func (o *Options) runController(ctx context.Context, kube kubernetes.Interface, sluice sluiceclient.Interface) error {
	if err := sluicescheme.AddToScheme(scheme.Scheme); err != nil {
		return err
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartStructuredLogging(2)
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "sluice-controller"})

	kubeInformers := kubeinformers.NewSharedInformerFactoryWithOptions(kube, o.Resync, kubeinformers.WithTweakListOptions(controller.InformerTweak))
	sluiceInformers := sluiceinformers.NewSharedInformerFactory(sluice, o.Resync)
	notifier := controller.NewNotifier(kube, controller.NotifierOptions{Timeout: o.NotifyTimeout, MaxAttempts: o.NotifyMaxAttempts, Backoff: o.NotifyBackoff,
		Egress: o.Egress})
	c, err := controller.New(kube, sluice, kubeInformers, sluiceInformers, recorder, notifier, controller.NewLogCopier(kube, sluice),
		controller.Options{RetryBackoff: o.RetryBackoff, MaxRetryBackoff: o.MaxRetryBackoff, Instance: o.Instance, LogCopyWorkers: o.LogCopyWorkers,
			Egress: o.Egress})
	if err != nil {
		return err
	}
	kubeInformers.Start(ctx.Done())
	sluiceInformers.Start(ctx.Done())
	defer kubeInformers.Shutdown()
	defer sluiceInformers.Shutdown()
	go notifier.Run(ctx, o.NotifyWorkers)
	return c.Run(ctx, o.Workers)
}
