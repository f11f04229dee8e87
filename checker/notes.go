package checker

import (
	"fmt"
	"strings"
)

// maxNotesPerCheck bounds the explanations printed per check; the details
// stay in the history (and, for linearizability, in the views of every
// failing key).
const maxNotesPerCheck = 5

// notesFor prefixes each problem with the check's name and keeps the first
// maxNotesPerCheck, then says how many more there were.
func notesFor(check string, problems []string) []string {
	notes := make([]string, 0, maxNotesPerCheck+1)
	for i, p := range problems {
		if i == maxNotesPerCheck {
			notes = append(notes, fmt.Sprintf("%s: ... and %d more", check, len(problems)-i))
			break
		}
		notes = append(notes, check+": "+p)
	}
	return notes
}

// firstFew joins up to n items with sep and counts the rest.
func firstFew(items []string, n int, sep string) string {
	if len(items) <= n {
		return strings.Join(items, sep)
	}
	return strings.Join(items[:n], sep) + fmt.Sprintf("%s and %d more", sep, len(items)-n)
}
