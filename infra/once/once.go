// Package once checks that a message says each thing once: no doubled
// prefix ("seed: seed: …") and no cause repeated after the error that
// already quotes it ("unauthorized: The token …: unauthorized: The token
// …: token is malformed"). Tests of the tools and the API's log use it.
package once

import "strings"

// Repeated returns the parts of msg that occur more than once, in the order
// of their second occurrence, or nil when every part is said once. A part
// is what lies between ": " separators (the way wrapped Go errors join),
// compared without case, surrounding space or a final full stop.
func Repeated(msg string) []string {
	seen := map[string]bool{}
	var rep []string
	for _, p := range strings.Split(msg, ": ") {
		k := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(p)), ".")
		if k == "" {
			continue
		}
		if seen[k] {
			rep = append(rep, strings.TrimSpace(p))
		}
		seen[k] = true
	}
	return rep
}
