// Package pipeline is the registry of pipelines.sluice.dev and its status
// subresource.
package pipeline
