// Package status serves a resource's status subresource from the resource's
// own generic registry Store, with the resource's status strategy: the one
// piece every registry package of the group would otherwise repeat.
package status
