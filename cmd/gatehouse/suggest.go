package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// suggestDistance is how many edits away a name may be to be suggested
// for a mistyped one (cobra's default for the root's sub-commands).
const suggestDistance = 2

// unknownCommand is the usage error for a sub-command cmd does not have,
// with cobra's "Did you mean this?" list, as the root gives it.
func unknownCommand(cmd *cobra.Command, name string) error {
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = suggestDistance
	}
	return usageError{fmt.Errorf("unknown command %q for %q%s", name, cmd.CommandPath(), didYouMean(cmd.SuggestionsFor(name)))}
}

// flagError turns a flag the command line got wrong into a usage error; an
// unknown flag comes with the flags it may have meant.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		return usageError{fmt.Errorf("%w%s", err, didYouMean(similarFlags(cmd.Flags(), name)))}
	}
	if strings.HasPrefix(msg, "unknown shorthand flag: 'v'") {
		// -v means --verbose wherever it exists, and never --version.
		return usageError{fmt.Errorf(`%w (-v is --verbose, which %q does not have; the version is "gatehouse version")`, err, cmd.CommandPath())}
	}
	return usageError{err}
}

// similarFlags lists the visible flags of fs whose names are a few edits
// from name, or start with it.
func similarFlags(fs *pflag.FlagSet, name string) []string {
	name, _, _ = strings.Cut(name, "=")
	var out []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		if policy.EditDistance(strings.ToLower(name), f.Name) <= suggestDistance || (len(name) > 1 && strings.HasPrefix(f.Name, name)) {
			out = append(out, "--"+f.Name)
		}
	})
	return out
}

// didYouMean formats suggestions as cobra does for unknown commands.
func didYouMean(suggestions []string) string {
	if len(suggestions) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n\nDid you mean this?\n")
	for _, s := range suggestions {
		fmt.Fprintf(&b, "\t%s\n", s)
	}
	return b.String()
}
