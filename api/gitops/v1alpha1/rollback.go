package v1alpha1

import (
	"fmt"
	"strconv"
	"strings"
)

// RollbackOperation is the sync operation that restores history entry id:
// its source and revision, initiated by user (Argo CD's rollback).
func (a *Application) RollbackOperation(id int64, user string) (*Operation, error) {
	for _, h := range a.Status.History {
		if h.ID != id {
			continue
		}
		return &Operation{
			Sync:        &SyncOperation{Revision: h.Revision, Revisions: h.Revisions, Source: h.Source.DeepCopy(), Sources: h.Sources},
			InitiatedBy: OperationInitiator{Username: user},
		}, nil
	}
	ids := make([]string, 0, len(a.Status.History))
	for _, h := range a.Status.History {
		ids = append(ids, strconv.FormatInt(h.ID, 10))
	}
	return nil, fmt.Errorf("application %s has no history entry %d (ids: %s)", a.Name, id, strings.Join(ids, ", "))
}
