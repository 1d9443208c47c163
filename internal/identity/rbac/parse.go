package rbac

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sources of policy lines, as named in errors.
const (
	sourceBuiltin = "built-in policy"
	sourceUser    = "policy.csv"
)

// PolicyError says which line of which policy was rejected, and why.
type PolicyError struct {
	// Source is "policy.csv", "built-in policy" or "project <name>".
	Source string
	// Line is 1-based, counted in the text handed to SetPolicy or
	// SetProjectPolicies.
	Line   int
	Text   string
	Reason string
}

func (e *PolicyError) Error() string {
	text := e.Text
	if len(text) > 120 {
		text = text[:117] + "..."
	}
	return fmt.Sprintf("%s line %d: %s: %q", e.Source, e.Line, e.Reason, text)
}

// policyLine is one p or g line of a policy, split into fields, with where it
// came from so later checks (patterns, project scope) can name it.
type policyLine struct {
	source string
	line   int
	text   string
	// fields without the leading "p" or "g": for p subject, resource,
	// action, object, effect; for g subject, role.
	fields []string
	group  bool // a g line
}

func (l policyLine) errorf(format string, args ...any) *PolicyError {
	return &PolicyError{Source: l.source, Line: l.line, Text: l.text, Reason: fmt.Sprintf(format, args...)}
}

// parsePolicy splits a policy CSV the way Argo CD's adapter does: one record
// per "\n"-separated line, surrounding space trimmed, blank lines and lines
// starting with "#" skipped, fields read by encoding/csv so that quoted fields
// may hold commas. p lines have 6 fields, g lines 3.
//
// It is stricter than Argo CD where Argo CD would load a line that can never
// match: empty fields, fields with trailing space ("alice " never equals
// "alice"), an effect other than allow/deny and bytes that are not UTF-8 (a
// ConfigMap cannot hold them anyway) are errors here.
func parsePolicy(source, text string) ([]policyLine, error) {
	var out []policyLine
	// One buffer for all lines: csv.NewReader reuses a *bufio.Reader it is
	// given instead of allocating 4 KiB per line.
	buf := bufio.NewReader(strings.NewReader(""))
	for i, raw := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(raw)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		l := policyLine{source: source, line: i + 1, text: trimmed}
		if !utf8.ValidString(trimmed) {
			return nil, l.errorf("not valid UTF-8")
		}
		buf.Reset(strings.NewReader(trimmed))
		record, err := readRecord(buf)
		if err != nil {
			return nil, l.errorf("%s", err)
		}
		if err := l.setFields(record); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// readRecord reads the CSV record of one line. The line holds no "\n", and
// encoding/csv keeps a lone "\r" inside its field, so there is exactly one.
func readRecord(line *bufio.Reader) ([]string, error) {
	r := csv.NewReader(line)
	r.TrimLeadingSpace = true
	record, err := r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("malformed CSV at column %d: %v", pe.Column, pe.Err)
		}
		return nil, fmt.Errorf("malformed CSV: %v", err)
	}
	return record, nil
}

func (l *policyLine) setFields(record []string) error {
	switch record[0] {
	case "p":
		if len(record) != 6 {
			return l.errorf("a p line needs 6 fields (p, subject, resource, action, object, effect), got %d", len(record))
		}
	case "g":
		if len(record) != 3 {
			return l.errorf("a g line needs 3 fields (g, subject, role), got %d", len(record))
		}
		l.group = true
	default:
		return l.errorf("unknown line type %q: want p or g", record[0])
	}
	for i, f := range record[1:] {
		if f == "" {
			return l.errorf("field %d is empty", i+2)
		}
		if strings.TrimSpace(f) != f {
			return l.errorf("field %d (%q) has leading or trailing space", i+2, f)
		}
	}
	if !l.group {
		if eft := record[5]; eft != "allow" && eft != "deny" {
			return l.errorf("effect must be allow or deny, got %q", eft)
		}
	}
	l.fields = record[1:]
	return nil
}
