package cli

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// syncRequest is the body of POST .../sync: Argo CD's ApplicationSyncRequest,
// the fields the CLI sets.
type syncRequest struct {
	Revision  string                                 `json:"revision,omitempty"`
	Prune     bool                                   `json:"prune,omitempty"`
	DryRun    bool                                   `json:"dryRun,omitempty"`
	Resources []gitopsv1alpha1.SyncOperationResource `json:"resources,omitempty"`
	Infos     []gitopsv1alpha1.Info                  `json:"infos,omitempty"`
}

// rollbackRequest is the body of POST .../rollback: Argo CD's
// ApplicationRollbackRequest, plus infos as in a sync.
type rollbackRequest struct {
	ID    int64                 `json:"id"`
	Prune bool                  `json:"prune,omitempty"`
	Infos []gitopsv1alpha1.Info `json:"infos,omitempty"`
}

// requestInfo names the operation info that carries a CLI request's id.
const requestInfo = "request"

func (o *appOptions) sync() *cobra.Command {
	var revision string
	var prune, dryRun, async bool
	var resources []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "sync NAME",
		Short: "Sync an application to its target revision (or --revision) and wait for the result",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &syncRequest{Revision: revision, Prune: prune, DryRun: dryRun}
			for _, r := range resources {
				res, err := parseSyncResource(r)
				if err != nil {
					return err
				}
				req.Resources = append(req.Resources, res)
			}
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			return o.runOperation(cmd, api, args[0], "sync", func(infos []gitopsv1alpha1.Info) any {
				req.Infos = infos
				return req
			}, async, timeout)
		},
	}
	cmd.Flags().StringVar(&revision, "revision", "", "sync to this revision instead of the target")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete resources that left Git")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate and report, change nothing")
	cmd.Flags().BoolVar(&async, "async", false, "do not wait for the sync to finish")
	cmd.Flags().StringSliceVar(&resources, "resource", nil, "sync only GROUP:KIND:[NAMESPACE/]NAME (repeatable)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait")
	return cmd
}

// parseSyncResource reads GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME, as
// argocd --resource.
func parseSyncResource(r string) (gitopsv1alpha1.SyncOperationResource, error) {
	parts := strings.SplitN(r, ":", 3)
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return gitopsv1alpha1.SyncOperationResource{}, fmt.Errorf("--resource %q: want GROUP:KIND:NAME (GROUP empty for core kinds, e.g. :Service:web)", r)
	}
	ns, name, ok := strings.Cut(parts[2], "/")
	if !ok {
		ns, name = "", parts[2]
	}
	return gitopsv1alpha1.SyncOperationResource{Group: parts[0], Kind: parts[1], Namespace: ns, Name: name}, nil
}

func (o *appOptions) rollback() *cobra.Command {
	var prune bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "rollback NAME ID",
		Short: "Sync the application back to a history entry (automated sync must be off)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return fmt.Errorf("history ID %q is not a number (see gantry app history %s)", args[1], args[0])
			}
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			return o.runOperation(cmd, api, args[0], "rollback", func(infos []gitopsv1alpha1.Info) any {
				return &rollbackRequest{ID: id, Prune: prune, Infos: infos}
			}, false, timeout)
		},
	}
	cmd.Flags().BoolVar(&prune, "prune", false, "delete resources not in the rolled-back revision")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait")
	return cmd
}

// runOperation asks gantry for a sync or rollback (verb) of app name and,
// unless async, waits for its result. body makes the request with the infos
// that tell this operation's result from an earlier one: the controller
// clears app.operation before it writes the new state, so nothing else does.
func (o *appOptions) runOperation(cmd *cobra.Command, api *apiClient, name, verb string, body func([]gitopsv1alpha1.Info) any, async bool, timeout time.Duration) error {
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	err := api.do("POST", o.path(name, verb, nil), body([]gitopsv1alpha1.Info{{Name: requestInfo, Value: id}}), nil)
	if httpStatus(err) == http.StatusConflict {
		return fmt.Errorf("another operation is already in progress on %s: gantry app wait %s --operation waits for it", name, name)
	} else if err != nil {
		return o.notFound(err, name)
	}
	if async {
		fmt.Fprintf(cmd.OutOrStdout(), "sync of '%s' requested\n", name)
		return nil
	}
	done, err := o.waitFor(cmd, api, name, timeout, func(a *gitopsv1alpha1.Application) bool { return operationDone(a, id) })
	if err != nil {
		return err
	}
	printApp(cmd.OutOrStdout(), done)
	if st := done.Status.OperationState; st.Phase != gitopsv1alpha1.OperationSucceeded {
		return fmt.Errorf("sync %s: %s", st.Phase, st.Message)
	}
	return nil
}

// operationDone says whether app shows the finished result of the operation
// with request id id.
func operationDone(app *gitopsv1alpha1.Application, id string) bool {
	st := app.Status.OperationState
	return app.Operation == nil && st != nil && hasInfo(st.Operation.Info, requestInfo, id) && st.Phase != gitopsv1alpha1.OperationRunning
}

func hasInfo(info []gitopsv1alpha1.Info, name, value string) bool {
	for _, i := range info {
		if i.Name == name && i.Value == value {
			return true
		}
	}
	return false
}

// waitFor reads app name until ok says so, the timeout passes or the command
// is cancelled. It polls: a GET answered from gantry's cache costs little, and
// each one is authenticated (and the session refreshed) like any command.
func (o *appOptions) waitFor(cmd *cobra.Command, api *apiClient, name string, timeout time.Duration, ok func(*gitopsv1alpha1.Application) bool) (*gitopsv1alpha1.Application, error) {
	deadline := time.Now().Add(timeout)
	var app *gitopsv1alpha1.Application
	err := poll(cmd, func() (bool, error) {
		var err error
		if app, err = o.fetch(api, name, nil); err != nil {
			return false, err
		}
		if ok(app) {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("timed out after %s waiting for application %s (sync %s, health %s)", timeout, name,
				orUnknown(string(app.Status.Sync.Status)), orUnknown(string(app.Status.Health.Status)))
		}
		return false, nil
	})
	return app, err
}

func (o *appOptions) wait() *cobra.Command {
	var health, synced, operation bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait NAME",
		Short: "Wait until the application is Synced and Healthy (or as --sync / --health / --operation say)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := o.apiClient()
			if err != nil {
				return err
			}
			if !health && !synced && !operation {
				health, synced, operation = true, true, true
			}
			app, err := o.waitFor(cmd, api, args[0], timeout, func(a *gitopsv1alpha1.Application) bool {
				if synced && a.Status.Sync.Status != gitopsv1alpha1.SyncStatusSynced {
					return false
				}
				if health && a.Status.Health.Status != gitopsv1alpha1.HealthHealthy {
					return false
				}
				if operation && (a.Operation != nil || a.Status.OperationState != nil && a.Status.OperationState.Phase == gitopsv1alpha1.OperationRunning) {
					return false
				}
				return true
			})
			if err != nil {
				return err
			}
			printApp(cmd.OutOrStdout(), app)
			return nil
		},
	}
	cmd.Flags().BoolVar(&health, "health", false, "wait for Healthy")
	cmd.Flags().BoolVar(&synced, "sync", false, "wait for Synced")
	cmd.Flags().BoolVar(&operation, "operation", false, "wait for the running operation to finish")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait")
	return cmd
}
