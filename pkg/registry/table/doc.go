// Package table turns objects into the server-side tables kubectl prints
// (`kubectl get` asks for a metav1.Table). Each resource supplies its
// columns and a function from one object to one row; this package does the
// list handling, the metadata and the header rules.
package table
