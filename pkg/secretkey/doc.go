// Package secretkey reads the one key of a Secret that a SecretKeyRef
// names: the receiver's webhook and Slack signing keys, the controller's
// notification signing keys and Slack URLs, and the check that a trigger's
// key is there. One reader, so that every caller reads with a GET (no list
// or watch on Secrets is granted), treats an empty value as a missing one,
// and words its errors the same way, naming the Secret and key and never
// a value.
package secretkey
