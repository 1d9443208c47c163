package vcluster

import "fmt"

// AsleepError says the virtual cluster sleeps and the caller may not wake it.
type AsleepError struct{ Project, Name string }

func (e AsleepError) Error() string {
	return fmt.Sprintf("virtual cluster %s of project %s is asleep; passive callers do not wake it", e.Name, e.Project)
}

// NotFoundError says no such virtual cluster exists.
type NotFoundError struct{ Project, Name string }

func (e NotFoundError) Error() string {
	return fmt.Sprintf("virtual cluster %s not found in project %s", e.Name, e.Project)
}
