package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "gantry.dev/gantry/api/gitops/v1alpha1"
)

// printAppAs prints an app as `gantry app get -o output` does: yaml, json,
// or ("") the summary of argocd app get.
func printAppAs(out io.Writer, app *gitopsv1alpha1.Application, output string) error {
	switch output {
	case "yaml":
		return printYAML(out, app)
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(app)
	}
	printApp(out, app)
	return nil
}

func printYAML(w io.Writer, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// printAppList is the table of `gantry app list`.
func printAppList(out io.Writer, apps []gitopsv1alpha1.Application) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tCLUSTER\tNAMESPACE\tPROJECT\tSTATUS\tHEALTH\tSYNCPOLICY\tCONDITIONS\tREPO\tPATH\tTARGET")
	for _, a := range apps {
		src := firstSource(&a)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, destination(&a), a.Spec.Destination.Namespace,
			a.Spec.Project, orUnknown(string(a.Status.Sync.Status)), orUnknown(string(a.Status.Health.Status)), syncPolicyName(&a),
			conditionTypes(&a), src.RepoURL, src.Path, src.TargetRevision)
	}
	w.Flush()
}

// printApp is the summary of `gantry app get`, as argocd app get prints it.
func printApp(out io.Writer, a *gitopsv1alpha1.Application) {
	src := firstSource(a)
	w := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
	fmt.Fprintf(w, "Name:\t%s/%s\n", a.Namespace, a.Name)
	fmt.Fprintf(w, "Project:\t%s\n", a.Spec.Project)
	fmt.Fprintf(w, "Server:\t%s\n", destination(a))
	fmt.Fprintf(w, "Namespace:\t%s\n", a.Spec.Destination.Namespace)
	fmt.Fprintf(w, "Repo:\t%s\n", src.RepoURL)
	fmt.Fprintf(w, "Target:\t%s\n", src.TargetRevision)
	fmt.Fprintf(w, "Path:\t%s\n", src.Path)
	fmt.Fprintf(w, "Sync Policy:\t%s\n", syncPolicyName(a))
	rev := a.Status.Sync.Revision
	if len(rev) > 7 {
		rev = rev[:7]
	}
	target := src.TargetRevision
	if target == "" {
		target = "HEAD"
	}
	fmt.Fprintf(w, "Sync Status:\t%s to %s (%s)\n", orUnknown(string(a.Status.Sync.Status)), target, rev)
	fmt.Fprintf(w, "Health Status:\t%s\n", orUnknown(string(a.Status.Health.Status)))
	w.Flush()
	if len(a.Status.Conditions) > 0 {
		fmt.Fprintln(out, "\nCONDITION\tMESSAGE")
		for _, c := range a.Status.Conditions {
			fmt.Fprintf(out, "%s\t%s\n", c.Type, c.Message)
		}
	}
	if st := a.Status.OperationState; st != nil {
		fmt.Fprintf(out, "\nOperation:          Sync\nPhase:              %s\nMessage:            %s\n", st.Phase, st.Message)
	}
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "GROUP\tKIND\tNAMESPACE\tNAME\tSTATUS\tHEALTH\tHOOK\tMESSAGE")
	msgs := map[string]string{}
	if st := a.Status.OperationState; st != nil && st.SyncResult != nil {
		for _, r := range st.SyncResult.Resources {
			msgs[r.Group+"/"+r.Kind+"/"+r.Namespace+"/"+r.Name] = r.Message
		}
	}
	for _, r := range a.Status.Resources {
		h := ""
		if r.Health != nil {
			h = string(r.Health.Status)
		}
		hook := ""
		if r.Hook {
			hook = "true"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Group, r.Kind, r.Namespace, r.Name, r.Status, h, hook,
			msgs[r.Group+"/"+r.Kind+"/"+r.Namespace+"/"+r.Name])
	}
	w.Flush()
}

func firstSource(a *gitopsv1alpha1.Application) gitopsv1alpha1.ApplicationSource {
	if a.Spec.Source != nil {
		return *a.Spec.Source
	}
	if len(a.Spec.Sources) > 0 {
		return a.Spec.Sources[0]
	}
	return gitopsv1alpha1.ApplicationSource{}
}

func destination(a *gitopsv1alpha1.Application) string {
	if a.Spec.Destination.Name != "" {
		return a.Spec.Destination.Name
	}
	return a.Spec.Destination.Server
}

func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}

func syncPolicyName(a *gitopsv1alpha1.Application) string {
	if p := a.Spec.SyncPolicy; p != nil && p.Automated != nil && (p.Automated.Enabled == nil || *p.Automated.Enabled) {
		s := "Auto"
		if p.Automated.Prune {
			s += "-Prune"
		}
		return s
	}
	return "Manual"
}

func conditionTypes(a *gitopsv1alpha1.Application) string {
	if len(a.Status.Conditions) == 0 {
		return "<none>"
	}
	var t []string
	for _, c := range a.Status.Conditions {
		t = append(t, c.Type)
	}
	return strings.Join(t, ",")
}
