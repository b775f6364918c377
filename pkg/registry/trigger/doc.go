// Package trigger is the storage of triggers and of their status
// subresource: the strategy (the server's sluice.dev/pipeline label,
// generation, validation) and the table the server prints.
package trigger
