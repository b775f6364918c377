// Package namespacename is the NamespaceName admission plugin of
// sluice-apiserver. A write in a namespace whose name no namespace can have
// (not a DNS-1123 label, e.g. "%", "." or "a b" in a URL) is the 404
// NamespaceLifecycle answers for a namespace that does not exist, given
// before NamespaceLifecycle looks the namespace up: its lookup goes through
// a client that refuses some such names itself ("%", ".", ".."), and
// NamespaceLifecycle answers that refusal with a 500.
package namespacename
