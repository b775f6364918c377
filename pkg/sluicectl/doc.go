// Package sluicectl is what kubectl sluice and its dashboard both do with
// the API on a user's behalf, so that the two do it one way: the actions
// (approve, reject, cancel, rerun, roll back) through the same
// subresources, a refusal worded the same ("you cannot approve x: <the
// server's reason>"), and the job history newest first although the
// server lists in name order.
//
// Everything here takes the user's clientset: it acts with the user's
// credentials and has no privileges of its own.
package sluicectl
