// Package status serves a resource's status subresource from the resource's
// own generic registry Store (REST), with an update strategy that changes
// status and nothing else (UpdateStrategy): the pieces every registry
// package of the group would otherwise repeat.
package status
