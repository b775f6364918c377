// Package kubectlsluice is `kubectl sluice`, the kubectl plugin of Sluice.
//
// It follows kubectl's habits so that it feels like one of its commands:
//   - the connection flags are k8s.io/cli-runtime's ConfigFlags, so
//     --kubeconfig, --context, -n, --as, --as-group and the rest mean what
//     they mean to kubectl;
//   - each command is a cobra command whose Options are completed from the
//     flags and arguments, validated, and run (Complete, Validate, Run);
//   - it talks only to the Kubernetes API, with the user's credentials,
//     through the typed clientset and Sluice's subresources (pipelines/run,
//     pipelinejobs/log, /cancel, /rerun, /approval, pipelines/rollback):
//     it has no privileges of its own, and RBAC decides everything;
//   - output is human by default, -o json|yaml|name where an object is
//     printed, and never coloured when stdout is not a terminal.
//
// Errors are one line, "Error: <what went wrong>", with the server's
// message for a refusal. Exit codes are for scripts: 0 success, 1 a
// failed job or any other error, 2 a usage error.
package kubectlsluice
