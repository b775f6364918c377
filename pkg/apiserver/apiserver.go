package apiserver

import (
	"net/http"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/registry/pipeline"
	"github.com/sluice-dev/sluice/pkg/registry/pipelinejob"
	"github.com/sluice-dev/sluice/pkg/storage/postgres"
)

// ExtraConfig is what Sluice adds to the generic apiserver config.
type ExtraConfig struct {
	// Backend is the PostgreSQL storage; Options.Run closes it when the
	// server stops.
	Backend *postgres.Backend
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
	jobs, err := pipelinejob.NewStorage(Scheme, c.GenericConfig.RESTOptionsGetter, pipelines)
	if err != nil {
		return nil, err
	}
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
		"pipelines/run":         pipeline.NewRunREST(pipelines, jobs.Jobs),
		"pipelines/rollback":    pipeline.NewRollbackREST(pipelines, jobs.Jobs),
		"pipelinejobs":          jobs.Jobs,
		"pipelinejobs/status":   jobs.Status,
		"pipelinejobs/cancel":   jobs.Cancel,
		"pipelinejobs/rerun":    jobs.Rerun,
		"pipelinejobs/approval": jobs.Approval,
	}
	if err := generic.InstallAPIGroup(&group); err != nil {
		return nil, err
	}
	return s, nil
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
	}
	return nil
}
