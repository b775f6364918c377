// Package controller is the sluice-controller command: flags, clients,
// informers, leader election, and the /healthz and /metrics server around
// pkg/controller.
package controller
