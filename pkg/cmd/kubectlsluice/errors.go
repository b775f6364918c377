package kubectlsluice

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// usageError is a wrong flag or argument: exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// UsageErrorf is a usage error with the message, and the hint to see the
// command's help.
func UsageErrorf(cmd *cobra.Command, format string, args ...any) error {
	return usageError{fmt.Errorf("%s\nSee '%s --help' for usage.", fmt.Sprintf(format, args...), cmd.CommandPath())}
}

// jobFailedError says the job a command waited for ended without
// succeeding: exit code 1, after the command printed how it ended.
type jobFailedError struct{ msg string }

func (j jobFailedError) Error() string { return j.msg }

// isCobraUsageError recognises cobra's own usage errors, which it returns
// as plain errors: an unknown command or flag.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command ") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "unknown shorthand flag") || strings.HasPrefix(msg, "invalid argument ")
}

// exactArgs wants exactly the named arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return UsageErrorf(cmd, "expected %s, got %d argument(s)", strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// maxArgs wants at most the named, optional, arguments.
func maxArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > len(names) {
			return UsageErrorf(cmd, "expected at most [%s], got %d arguments", strings.Join(names, " "), len(args))
		}
		return nil
	}
}
