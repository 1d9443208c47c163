// Package project reconciles Projects: each owns a namespace p-<name> that holds
// its virtual clusters and applications, and reports what it holds against its
// quotas. Who may do what in a project is the rbac package's business; this one
// only hands it the members (Policies).
package project
