package apply

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// SyncOptions are Argo CD's sync options, from an Application's
// spec.syncPolicy.syncOptions or a resource's sync-options annotation. The zero
// value is Argo CD's default.
type SyncOptions struct {
	// NoPrune (Prune=false): never prune the resource; PruneConfirm (Prune=confirm):
	// prune only with Options.PruneConfirmed.
	NoPrune, PruneConfirm bool
	// NoDelete (Delete=false) keeps the resource when the application is deleted. Sync
	// does not use it; the caller's deletion does (see ResourceSyncOptions).
	NoDelete bool
	// PruneLast prunes after every wave has been applied and become healthy.
	PruneLast bool
	// Replace creates or replaces (PUT) instead of applying.
	Replace bool
	// Force (Force=true) deletes and re-creates an existing object: always
	// with Replace (kubectl replace --force), and without it when the apply
	// is refused as invalid, e.g. for a changed immutable field (kubectl
	// apply --force).
	Force bool
	// ServerSideApply is recorded but changes nothing: gantry always applies server-side.
	ServerSideApply bool
	// NoValidate (Validate=false) makes the API server ignore unknown fields instead
	// of rejecting them (fieldValidation=Ignore instead of Strict). Server-side apply
	// rejects unknown fields anyway; creates and replaces (hooks, Replace=true) drop them.
	NoValidate bool
	// SkipDryRunOnMissingResource skips validation of a resource whose kind is unknown.
	SkipDryRunOnMissingResource bool
	// RespectIgnoreDifferences: the caller takes the fields the app's
	// ignoreDifferences names from live before syncing (diff.RespectIgnored).
	RespectIgnoreDifferences bool
	// Application-level only.
	CreateNamespace      bool
	ApplyOutOfSyncOnly   bool
	FailOnSharedResource bool
	// PrunePropagationPolicy is foreground unless set otherwise.
	PrunePropagationPolicy metav1.DeletionPropagation
}

// ParseSyncOptions reads an Application's sync options ("CreateNamespace=true", ...).
// Unknown options are ignored, as Argo CD ignores them; CheckSyncOptions
// reports them.
func ParseSyncOptions(list []string) SyncOptions {
	return SyncOptions{}.with(list)
}

// ResourceSyncOptions returns app's options overridden by obj's sync-options annotation.
func ResourceSyncOptions(obj *unstructured.Unstructured, app SyncOptions) SyncOptions {
	return app.with(csv(obj.GetAnnotations()[AnnotationSyncOptions]))
}

// with returns o overridden by the options in list; later entries win, so a
// resource's annotation overrides the application's list.
func (o SyncOptions) with(list []string) SyncOptions {
	for _, entry := range list {
		key, value, _ := strings.Cut(strings.TrimSpace(entry), "=")
		value = strings.TrimSpace(value)
		on := value == "true"
		switch strings.TrimSpace(key) {
		case "Prune":
			o.NoPrune, o.PruneConfirm = value == "false", value == "confirm"
		case "Delete":
			o.NoDelete = value == "false"
		case "PruneLast":
			o.PruneLast = on
		case "Replace":
			o.Replace = on
		case "Force":
			o.Force = on
		case "ServerSideApply":
			o.ServerSideApply = on
		case "Validate":
			o.NoValidate = value == "false"
		case "SkipDryRunOnMissingResource":
			o.SkipDryRunOnMissingResource = on
		case "CreateNamespace":
			o.CreateNamespace = on
		case "ApplyOutOfSyncOnly":
			o.ApplyOutOfSyncOnly = on
		case "FailOnSharedResource":
			o.FailOnSharedResource = on
		case "RespectIgnoreDifferences":
			o.RespectIgnoreDifferences = on
		case "PrunePropagationPolicy":
			switch strings.ToLower(value) {
			case "background":
				o.PrunePropagationPolicy = metav1.DeletePropagationBackground
			case "orphan":
				o.PrunePropagationPolicy = metav1.DeletePropagationOrphan
			default:
				o.PrunePropagationPolicy = metav1.DeletePropagationForeground
			}
		}
	}
	return o
}

func (o SyncOptions) propagation() metav1.DeletionPropagation {
	if o.PrunePropagationPolicy == "" {
		return metav1.DeletePropagationForeground
	}
	return o.PrunePropagationPolicy
}

// csv splits a comma-separated annotation value, dropping empty entries.
func csv(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// knownSyncOptions are the options with() reads. ClientSideApplyMigration is
// known and changes nothing: gantry has always applied server-side, so there
// is no client-side apply to migrate from.
var knownSyncOptions = []string{"ApplyOutOfSyncOnly", "ClientSideApplyMigration", "CreateNamespace", "Delete",
	"FailOnSharedResource", "Force", "Prune", "PruneLast", "PrunePropagationPolicy", "Replace", "RespectIgnoreDifferences",
	"ServerSideApply", "SkipDryRunOnMissingResource", "Validate"}

// CheckSyncOptions reports what ParseSyncOptions would ignore: an option
// that is no KEY=VALUE, or one Argo CD does not know (a typo, most likely).
func CheckSyncOptions(list []string) error {
	for _, entry := range list {
		key, _, ok := strings.Cut(strings.TrimSpace(entry), "=")
		key = strings.TrimSpace(key)
		switch {
		case !ok:
			return fmt.Errorf("sync option %q is not KEY=VALUE, e.g. CreateNamespace=true", entry)
		case !slices.Contains(knownSyncOptions, key):
			return fmt.Errorf("unknown sync option %q; known options: %s", entry, strings.Join(knownSyncOptions, ", "))
		}
	}
	return nil
}
