package apiserver

import (
	"context"
	"errors"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/registry/pipeline"
	"github.com/sluice-dev/sluice/pkg/registry/pipelinejob"
	"github.com/sluice-dev/sluice/pkg/registry/trigger"
	"github.com/sluice-dev/sluice/pkg/storage/postgres"
)

// ExtraConfig is what Sluice adds to the generic apiserver config.
type ExtraConfig struct {
	// Backend is the PostgreSQL storage; Options.Run closes it when the
	// server stops.
	Backend *postgres.Backend
	// LogArchiveMaxBytes is the most of one action's output the log
	// archive keeps; 0 keeps all of it.
	LogArchiveMaxBytes int64
	// JobKeyPrefix is the storage key prefix of jobs, for the sweep of
	// the logs of deleted jobs.
	JobKeyPrefix string
	// KubeConfig is the client config of the cluster (the generic
	// config's ClientConfig), for reading Pods' output.
	KubeConfig *restclient.Config
}

// Config is the complete configuration of sluice-apiserver.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	ExtraConfig   ExtraConfig
}

// Server is a running sluice-apiserver.
type Server struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
}

type completedConfig struct {
	GenericConfig genericapiserver.CompletedConfig
	ExtraConfig   *ExtraConfig
}

// CompletedConfig is a Config with defaults filled in.
type CompletedConfig struct {
	*completedConfig
}

// Complete fills in the fields not set.
func (cfg *Config) Complete() CompletedConfig {
	return CompletedConfig{&completedConfig{cfg.GenericConfig.Complete(), &cfg.ExtraConfig}}
}

// New builds the server: the generic apiserver with the sluice.dev group.
func (c completedConfig) New() (*Server, error) {
	generic, err := c.GenericConfig.New("sluice-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	s := &Server{GenericAPIServer: generic}

	pipelines, pipelineStatus, err := pipeline.NewREST(Scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	triggers, triggerStatus, err := trigger.NewREST(Scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	// Live output is read through kube-apiserver's pods/log, as the
	// server's own identity, which needs get on pods/log and nothing more.
	if c.ExtraConfig.KubeConfig == nil {
		return nil, errors.New("pipelinejobs/log reads Pods' output through the cluster's API: the server needs a client of it (--kubeconfig, or run in the cluster)")
	}
	kube, err := kubernetes.NewForConfig(c.ExtraConfig.KubeConfig)
	if err != nil {
		return nil, err
	}
	archive := c.ExtraConfig.Backend.Logs()
	jobs, err := pipelinejob.NewStorage(Scheme, c.GenericConfig.RESTOptionsGetter, pipelines, pipelinejob.Logs{
		Archive:  archive,
		Pods:     pipelinejob.NewPodLogs(kube),
		MaxBytes: c.ExtraConfig.LogArchiveMaxBytes,
	})
	if err != nil {
		return nil, err
	}
	generic.AddPostStartHookOrDie("sluice-log-sweep", func(ctx genericapiserver.PostStartHookContext) error {
		go sweepOrphanLogs(ctx, archive, c.ExtraConfig.JobKeyPrefix)
		return nil
	})
	// The group's own parameter codec, not metav1's: pipelinejobs/log takes
	// PipelineJobLogOptions from the query.
	group := genericapiserver.NewDefaultAPIGroupInfo(sluice.GroupName, Scheme, runtime.NewParameterCodec(Scheme), Codecs)
	group.NegotiatedSerializer = Serializer
	// The action subresources (run, rollback, cancel, rerun, approval) are
	// small REST types beside their resource's storage; each is authorised
	// as create on its own resource/subresource.
	group.VersionedResourcesStorageMap[v1alpha1.SchemeGroupVersion.Version] = map[string]rest.Storage{
		"pipelines":             pipelines,
		"pipelines/status":      pipelineStatus,
		"pipelines/run":         pipeline.NewRunREST(pipelines, jobs.Jobs, triggers),
		"pipelines/rollback":    pipeline.NewRollbackREST(pipelines, jobs.Jobs),
		"pipelinejobs":          jobs.Jobs,
		"pipelinejobs/status":   jobs.Status,
		"pipelinejobs/cancel":   jobs.Cancel,
		"pipelinejobs/rerun":    jobs.Rerun,
		"pipelinejobs/approval": jobs.Approval,
		"pipelinejobs/log":      jobs.Log,
		"triggers":              triggers,
		"triggers/status":       triggerStatus,
	}
	if err := generic.InstallAPIGroup(&group); err != nil {
		return nil, err
	}
	return s, nil
}

// logSweepPeriod is how often the logs of deleted jobs that were not
// deleted with them are looked for. Each sweep reads every log's row once.
const logSweepPeriod = time.Hour

// sweepOrphanLogs deletes, at start and then every logSweepPeriod, the logs
// of jobs that no longer exist: a job's logs are deleted with it, and this
// catches a server that stopped in between. Logs archived in the last
// minute are left alone, as their job may be a moment old. Every replica
// sweeps; the deletes are idempotent.
func sweepOrphanLogs(ctx context.Context, archive *postgres.LogArchive, jobKeyPrefix string) {
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		n, err := archive.DeleteOrphans(ctx, jobKeyPrefix, time.Now().Add(-time.Minute))
		switch {
		case err != nil:
			klog.ErrorS(err, "Sweeping the logs of deleted jobs")
		case n > 0:
			klog.InfoS("Deleted the logs of deleted jobs", "logs", n)
		}
	}, logSweepPeriod)
}

// postgresCheck reports the storage in /readyz and /livez?verbose.
func postgresCheck(b *postgres.Backend) healthz.HealthChecker {
	return healthz.NamedCheck("postgres", func(*http.Request) error { return b.ReadinessCheck() })
}

// StorageVersion is the version objects are stored as.
func StorageVersion(schema.GroupResource) schema.GroupVersion { return v1alpha1.SchemeGroupVersion }

// MemoryVersion is the internal version the registry works on.
func MemoryVersion(schema.GroupResource) schema.GroupVersion { return sluice.SchemeGroupVersion }

// IndexedFields are the field selectors the storage pushes into its SQL:
// every selectable field of each resource. Only the job's spec and status
// fields have indexes of their own; see v1alpha1.PipelineJobSelectableFields.
func IndexedFields(gr schema.GroupResource) []string {
	switch gr.Resource {
	case "pipelinejobs":
		return v1alpha1.PipelineJobSelectableFields
	case "pipelines":
		return v1alpha1.PipelineSelectableFields
	case "triggers":
		return v1alpha1.TriggerSelectableFields
	}
	return nil
}
