// Package pipeline is the registry of pipelines.sluice.dev, its status
// subresource, and the actions that start jobs of a pipeline: run, and
// rollback of an environment to an earlier release.
package pipeline
