package apiserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericfilters "k8s.io/apiserver/pkg/server/filters"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	basecompatibility "k8s.io/component-base/compatibility"
	"k8s.io/utils/clock"
	netutils "k8s.io/utils/net"

	"github.com/sluice-dev/sluice/pkg/admission/namespacename"
	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceopenapi "github.com/sluice-dev/sluice/pkg/generated/openapi"
	"github.com/sluice-dev/sluice/pkg/storage/postgres"
	"github.com/sluice-dev/sluice/pkg/version"
)

// EnvDatabaseURL is read when --database-url is not given.
const EnvDatabaseURL = "SLUICE_DATABASE_URL"

// Options are the command-line options of sluice-apiserver: the
// apiserver's recommended options with etcd replaced by PostgreSQL.
type Options struct {
	RecommendedOptions       *genericoptions.RecommendedOptions
	Postgres                 PostgresOptions
	ComponentGlobalsRegistry basecompatibility.ComponentGlobalsRegistry
	// AlternateDNS are extra names for the self-signed serving certificate.
	AlternateDNS []string
	// LogArchiveMaxBytes is the most of one action's output the log
	// archive keeps, as a quantity.
	LogArchiveMaxBytes string
}

// PostgresOptions replace the apiserver's etcd options.
type PostgresOptions struct {
	DatabaseURL            string
	MaxConns               int32
	Migrate                bool
	CompactionWindow       time.Duration
	CompactionMinRevisions int64
	MaxObjectSize          string
	WatchCache             bool
	// StorageMediaType is the encoding new values are written in.
	StorageMediaType string
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	o := &Options{
		RecommendedOptions: genericoptions.NewRecommendedOptions("/registry", Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)),
		Postgres: PostgresOptions{
			DatabaseURL:            os.Getenv(EnvDatabaseURL),
			Migrate:                true,
			CompactionWindow:       5 * time.Minute,
			CompactionMinRevisions: 1000,
			MaxObjectSize:          "15Mi",
			StorageMediaType:       StorageMediaType,
		},
		ComponentGlobalsRegistry: compatibility.DefaultComponentGlobalsRegistry,
		LogArchiveMaxBytes:       "10Mi",
	}
	// Storage is PostgreSQL: no etcd flags, no etcd health checks.
	o.RecommendedOptions.Etcd = nil
	// NamespaceName runs before NamespaceLifecycle, which answers some
	// namespace names no namespace can have with a 500.
	namespacename.Register(o.RecommendedOptions.Admission.Plugins)
	o.RecommendedOptions.Admission.RecommendedPluginOrder = append([]string{namespacename.PluginName},
		o.RecommendedOptions.Admission.RecommendedPluginOrder...)
	_, _ = o.ComponentGlobalsRegistry.ComponentGlobalsOrRegister(basecompatibility.DefaultKubeComponent,
		compatibility.DefaultBuildEffectiveVersion(), utilfeature.DefaultMutableFeatureGate)
	return o
}

// AddFlags adds every flag.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.RecommendedOptions.AddFlags(fs)
	o.ComponentGlobalsRegistry.AddFlags(fs)
	p := &o.Postgres
	fs.StringVar(&p.DatabaseURL, "database-url", p.DatabaseURL,
		"PostgreSQL URL, e.g. postgres://user@host:5432/sluice?sslmode=verify-full (default $"+EnvDatabaseURL+"). "+
			"Pool settings may be given as URL parameters: pool_max_conns, pool_min_conns, pool_max_conn_lifetime.")
	fs.Int32Var(&p.MaxConns, "database-max-conns", p.MaxConns, "Maximum connections in the pool; 0 keeps the URL's pool_max_conns or pgx's default.")
	fs.BoolVar(&p.Migrate, "database-migrate", p.Migrate, "Apply missing schema migrations at start (under an advisory lock). When false, a schema that is behind is a start-up error.")
	fs.DurationVar(&p.CompactionWindow, "compaction-window", p.CompactionWindow, "How long history is kept for watches and reads at past resourceVersions.")
	fs.Int64Var(&p.CompactionMinRevisions, "compaction-min-revisions", p.CompactionMinRevisions, "How many of the latest revisions are always kept, however old.")
	fs.StringVar(&p.MaxObjectSize, "max-object-size", p.MaxObjectSize, "Largest object stored, as a quantity (e.g. 15Mi), at most 16Mi - 4Ki: client-go's watches refuse an event over 16Mi. Larger writes fail with 413.")
	fs.StringVar(&o.LogArchiveMaxBytes, "log-archive-max-bytes", o.LogArchiveMaxBytes,
		"The most of one action's output the log archive keeps, as a quantity (e.g. 10Mi): the end of a longer output, "+
			"after a line that says how much was dropped. 0 keeps every output whole.")
	fs.StringVar(&p.StorageMediaType, "storage-media-type", p.StorageMediaType, "Encoding of the values written to the database: "+
		runtime.ContentTypeProtobuf+" (the default: decoded several times faster) or "+runtime.ContentTypeJSON+
		". Values in either are read whatever the setting; a sluice-apiserver older than protobuf storage reads only JSON, "+
		"so a rolling update from one runs with "+runtime.ContentTypeJSON+" until no old replica is left (docs/operations.md).")
	fs.BoolVar(&p.WatchCache, "watch-cache", p.WatchCache, "Serve reads and watches from the apiserver's watch cache. Off by default: the cache holds every object in memory.")
}

// Validate checks the options.
func (o *Options) Validate() error {
	errs := o.RecommendedOptions.Validate()
	errs = append(errs, o.ComponentGlobalsRegistry.Validate()...)
	if o.Postgres.DatabaseURL == "" {
		errs = append(errs, fmt.Errorf("--database-url (or $%s) is required", EnvDatabaseURL))
	}
	if _, err := o.maxObjectSize(); err != nil {
		errs = append(errs, err)
	}
	if _, err := o.logArchiveMaxBytes(); err != nil {
		errs = append(errs, err)
	}
	if t := o.Postgres.StorageMediaType; t != runtime.ContentTypeProtobuf && t != runtime.ContentTypeJSON {
		errs = append(errs, fmt.Errorf("--storage-media-type=%q: want %s or %s", t, runtime.ContentTypeProtobuf, runtime.ContentTypeJSON))
	}
	if o.Postgres.CompactionWindow <= 0 {
		errs = append(errs, fmt.Errorf("--compaction-window must be positive"))
	}
	return utilerrors.NewAggregate(errs)
}

func (o *Options) maxObjectSize() (int, error) {
	q, err := resource.ParseQuantity(o.Postgres.MaxObjectSize)
	if err != nil || q.Value() <= 0 {
		return 0, fmt.Errorf("--max-object-size=%q: want a positive quantity such as 15Mi", o.Postgres.MaxObjectSize)
	}
	if q.Value() > postgres.MaxWatchableObjectSize {
		return 0, fmt.Errorf("--max-object-size=%q: at most %d bytes (16Mi - 4Ki): client-go's watches, sluice-controller's informers among them, "+
			"refuse an event over 16Mi, and a larger object would end each of them", o.Postgres.MaxObjectSize, postgres.MaxWatchableObjectSize)
	}
	return int(q.Value()), nil
}

func (o *Options) logArchiveMaxBytes() (int64, error) {
	q, err := resource.ParseQuantity(o.LogArchiveMaxBytes)
	if err != nil || q.Sign() < 0 {
		return 0, fmt.Errorf("--log-archive-max-bytes=%q: want a quantity such as 10Mi, or 0 for no limit", o.LogArchiveMaxBytes)
	}
	return q.Value(), nil
}

// Config builds the server config. It connects to PostgreSQL and checks
// (or migrates) the schema, so an unreachable database or a wrong schema
// version fails here, at start, with a message saying so.
func (o *Options) Config(ctx context.Context) (*Config, error) {
	if err := o.RecommendedOptions.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", o.AlternateDNS,
		[]net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return nil, fmt.Errorf("creating self-signed certificates: %w", err)
	}
	maxObjectSize, err := o.maxObjectSize()
	if err != nil {
		return nil, err
	}
	logMaxBytes, err := o.logArchiveMaxBytes()
	if err != nil {
		return nil, err
	}

	cfg := genericapiserver.NewRecommendedConfig(Codecs)
	cfg.Serializer = Serializer
	namer := openapi.NewDefinitionNamer(Scheme)
	cfg.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(sluiceopenapi.GetOpenAPIDefinitions, namer)
	// Info.Version is the build's version, as kube-apiserver's is: the
	// aggregator serves the OpenAPI v3 document of sluice.dev/v1alpha1 as
	// this server wrote it, so this is where a client (kubectl sluice
	// version) reads which sluice-apiserver answers; /version through
	// kube-apiserver is kube-apiserver's own.
	build := version.Get().String()
	cfg.OpenAPIConfig.Info.Title, cfg.OpenAPIConfig.Info.Version = "Sluice", build
	cfg.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(sluiceopenapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIV3Config.Info.Title, cfg.OpenAPIV3Config.Info.Version = "Sluice", build
	cfg.FeatureGate = o.ComponentGlobalsRegistry.FeatureGateFor(basecompatibility.DefaultKubeComponent)
	cfg.EffectiveVersion = o.ComponentGlobalsRegistry.EffectiveVersionFor(basecompatibility.DefaultKubeComponent)
	// pipelinejobs/log streams for as long as a job runs when followed,
	// and takes a whole output when archived: like kube-apiserver's
	// pods/log, it is exempt from the request timeout.
	cfg.LongRunningFunc = genericfilters.BasicLongRunningRequestCheck(sets.NewString("watch"), sets.NewString("log"))
	// Objects may be far larger than etcd allows; leave room for the request around them.
	cfg.MaxRequestBodyBytes = int64(maxObjectSize) + 1<<20
	if err := o.RecommendedOptions.ApplyTo(cfg); err != nil {
		return nil, err
	}
	if rh := cfg.Authentication.RequestHeaderConfig; rh != nil && rh.CAContentProvider != nil {
		// Not ready, and no request served as anonymous, until the
		// front-proxy CA is loaded (frontproxy.go).
		ca := frontProxyCA{ca: rh.CAContentProvider}
		cfg.AddReadyzChecks(ca.check())
		chain := cfg.BuildHandlerChainFunc
		cfg.BuildHandlerChainFunc = func(handler http.Handler, c *genericapiserver.Config) http.Handler {
			return ca.wait(chain(handler, c), c.Serializer)
		}
		// The front proxy's certificate is verified once per TLS
		// connection, not on every request (frontproxy_auth.go).
		if cfg.Authentication.Authenticator != nil {
			cfg.Authentication.Authenticator = newFrontProxyAuthenticator(rh, cfg.Authentication.Authenticator, clock.RealClock{})
		}
	}

	backend, err := postgres.New(ctx, postgres.Options{
		DatabaseURL:            o.Postgres.DatabaseURL,
		MaxConns:               o.Postgres.MaxConns,
		Migrate:                o.Postgres.Migrate,
		MaxObjectSize:          maxObjectSize,
		CompactionWindow:       o.Postgres.CompactionWindow,
		CompactionMinRevisions: o.Postgres.CompactionMinRevisions,
	})
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	restOptions := NewRESTOptionsGetter(backend)
	restOptions.StorageMediaType = o.Postgres.StorageMediaType
	restOptions.WatchCache = o.Postgres.WatchCache
	restOptions.StorageObjectCountTracker = cfg.StorageObjectCountTracker
	cfg.RESTOptionsGetter = restOptions
	cfg.AddReadyzChecks(postgresCheck(backend))
	return &Config{GenericConfig: cfg, ExtraConfig: ExtraConfig{
		Backend:            backend,
		LogArchiveMaxBytes: logMaxBytes,
		JobKeyPrefix:       restOptions.KeyPrefix(sluice.Resource("pipelinejobs")),
		KubeConfig:         cfg.ClientConfig,
	}}, nil
}

// Run starts the server and blocks until ctx ends.
func (o *Options) Run(ctx context.Context) error {
	cfg, err := o.Config(ctx)
	if err != nil {
		return err
	}
	defer cfg.ExtraConfig.Backend.Close()
	server, err := cfg.Complete().New()
	if err != nil {
		return err
	}
	return server.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}
