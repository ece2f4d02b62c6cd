package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
		if editDistance(strings.ToLower(name), f.Name) <= suggestDistance || (len(name) > 1 && strings.HasPrefix(f.Name, name)) {
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

// editDistance is the Levenshtein distance between a and b, in bytes
// (flag names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
