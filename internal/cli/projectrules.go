package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
	"gantry.dev/gantry/internal/projectapi"
)

// ruleFlags are the grants `project allow` adds and `project revoke` takes
// away: what the project's apps may touch (gitops/policy decides with them).
type ruleFlags struct {
	destinations     []string
	sourceRepos      []string
	clusterResources []string
	local            bool
	openIngress      bool
	ownStorage       bool
}

func (f *ruleFlags) register(cmd *cobra.Command, verb string) {
	cmd.Flags().StringArrayVar(&f.destinations, "destination", nil, verb+" a destination: SERVER=NAMESPACE or CLUSTER-NAME=NAMESPACE, globs allowed (e.g. https://kubernetes.default.svc=web-*); repeatable")
	cmd.Flags().StringArrayVar(&f.sourceRepos, "source-repo", nil, verb+" a repository URL glob (e.g. https://github.com/acme/*); repeatable")
	cmd.Flags().StringArrayVar(&f.clusterResources, "cluster-resource", nil, verb+" a cluster-scoped kind, GROUP/KIND (e.g. apiextensions.k8s.io/CustomResourceDefinition, /Namespace for the core group); repeatable")
	cmd.Flags().BoolVar(&f.local, "local-repositories", false, verb+" file:// and path repositories on gantry's machine")
	cmd.Flags().BoolVar(&f.openIngress, "open-ingress", false, verb+" traffic from anywhere on the host into the project's virtual clusters")
	cmd.Flags().BoolVar(&f.ownStorage, "vcluster-own-storage", false, verb+" virtual clusters naming a datastore of their own (vcluster create --storage, --storage-secret): gantry connects to whatever server they name")
}

func parseDestination(s string) (platformv1alpha1.ProjectDestination, error) {
	i := strings.LastIndex(s, "=")
	if i <= 0 || i == len(s)-1 {
		return platformv1alpha1.ProjectDestination{}, fmt.Errorf("--destination %q: write SERVER=NAMESPACE or CLUSTER-NAME=NAMESPACE, e.g. https://kubernetes.default.svc=web-*", s)
	}
	d := platformv1alpha1.ProjectDestination{Namespace: s[i+1:]}
	if cluster := s[:i]; strings.Contains(cluster, "://") {
		d.Server = cluster
	} else {
		d.Name = cluster
	}
	return d, nil
}

func parseGroupKind(s string) (metav1.GroupKind, error) {
	group, kind, ok := strings.Cut(s, "/")
	if !ok {
		group, kind = "", s
	}
	if kind == "" || strings.Contains(kind, "/") {
		return metav1.GroupKind{}, fmt.Errorf("--cluster-resource %q: write GROUP/KIND, e.g. rbac.authorization.k8s.io/ClusterRole (/Namespace for the core group)", s)
	}
	return metav1.GroupKind{Group: group, Kind: kind}, nil
}

// change turns the flags into the PUT body that adds (or removes) them on p.
func (f *ruleFlags) change(p projectapi.Project, add bool, cmd *cobra.Command) (map[string]any, error) {
	body := map[string]any{}
	if len(f.destinations) > 0 {
		dests := slices.Clone(p.AllowedDestinations)
		for _, s := range f.destinations {
			d, err := parseDestination(s)
			if err != nil {
				return nil, err
			}
			dests = slices.DeleteFunc(dests, func(x platformv1alpha1.ProjectDestination) bool { return x == d })
			if add {
				dests = append(dests, d)
			}
		}
		body["allowedDestinations"] = dests
	}
	if len(f.sourceRepos) > 0 {
		repos := slices.Clone(p.SourceRepos)
		for _, r := range f.sourceRepos {
			repos = slices.DeleteFunc(repos, func(x string) bool { return x == r })
			if add {
				repos = append(repos, r)
			}
		}
		body["sourceRepos"] = repos
	}
	if len(f.clusterResources) > 0 {
		kinds := slices.Clone(p.ClusterResourceWhitelist)
		for _, s := range f.clusterResources {
			gk, err := parseGroupKind(s)
			if err != nil {
				return nil, err
			}
			kinds = slices.DeleteFunc(kinds, func(x metav1.GroupKind) bool { return x == gk })
			if add {
				kinds = append(kinds, gk)
			}
		}
		body["clusterResourceWhitelist"] = kinds
	}
	if cmd.Flags().Changed("local-repositories") && f.local {
		body["localRepositories"] = add
	}
	if cmd.Flags().Changed("open-ingress") && f.openIngress {
		body["network"] = platformv1alpha1.ProjectNetwork{OpenIngress: add}
	}
	if cmd.Flags().Changed("vcluster-own-storage") && f.ownStorage {
		body["virtualClusterOwnStorage"] = add
	}
	if len(body) == 0 {
		return nil, fmt.Errorf("nothing to change: give --destination, --source-repo, --cluster-resource, --local-repositories, --open-ingress or --vcluster-own-storage")
	}
	return body, nil
}

// projectRules is `project allow` (add) or `project revoke`.
func projectRules(g *globals, add bool) *cobra.Command {
	var f ruleFlags
	var level, storageSecret string
	var sqlite bool
	use, short, verb := "allow PROJECT [flags]", "Let a project's apps deploy to more places, read more repositories or write more kinds (administrators)", "allow"
	if !add {
		use, short, verb = "revoke PROJECT [flags]", "Take back what `project allow` granted (administrators)", "take back"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `.

A project's apps may always deploy into the project's own virtual clusters and
its namespace p-PROJECT on the host, from any https or ssh repository. The rest
is granted here, and only by an administrator:

  gantry project allow shop --destination https://kubernetes.default.svc=shop-*
  gantry project allow shop --source-repo 'https://github.com/acme/*'
  gantry project allow shop --cluster-resource apiextensions.k8s.io/CustomResourceDefinition
  gantry project allow shop --local-repositories
  gantry project allow shop --pod-security privileged
  gantry project allow shop --vcluster-storage-secret pg   # a database per virtual cluster
  gantry project allow shop --vcluster-own-storage
  gantry project revoke shop --destination https://kubernetes.default.svc=shop-*

--vcluster-storage-secret names a Secret in the project's namespace whose key
"dsn" holds a postgres:// or mysql:// URL of a server: each of the project's
virtual clusters that names no storage of its own gets a database there,
dropped with it, that only the Secret's user may connect to. Give each
project a user of its own (allowed to create databases, no superuser): the
project's apps can read the Secret. It changes only while the project has no
virtual cluster.

--vcluster-own-storage lets the project's virtual clusters name a datastore
of their own (gantry vcluster create --storage or --storage-secret): gantry
then connects to whatever server they name, from where it runs. Revoking it
stops the clusters that use it; their data stays on their servers.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			var p projectapi.Project
			if err := api.do("GET", pathOf(projectapi.Prefix, args[0]), nil, &p); err != nil {
				return projectNotFound(err, args[0])
			}
			body, err := f.change(p, add, cmd)
			set := func(field string, value any) {
				if body == nil {
					body, err = map[string]any{}, nil
				}
				body[field] = value
			}
			if cmd.Flags().Changed("pod-security") {
				set("podSecurity", level)
			}
			if cmd.Flags().Changed("vcluster-storage-secret") {
				set("virtualClusterStorage", map[string]string{"secretName": storageSecret})
			}
			if sqlite {
				set("virtualClusterStorage", nil)
			}
			if err != nil {
				return err
			}
			if err := api.do("PUT", pathOf(projectapi.Prefix, args[0]), body, &p); err != nil {
				return err
			}
			return printRules(cmd.OutOrStdout(), p)
		},
	}
	f.register(cmd, verb)
	if add {
		cmd.Flags().StringVar(&level, "pod-security", "", "the Pod Security Standard of the project's workloads: privileged, baseline (the default) or restricted")
		cmd.Flags().StringVar(&storageSecret, "vcluster-storage-secret", "", "keep the project's virtual clusters in a PostgreSQL or MySQL server, a database each: the Secret in the project's namespace with the server's DSN under key dsn")
	} else {
		cmd.Flags().BoolVar(&sqlite, "vcluster-storage", false, "back to SQLite for the project's new virtual clusters (while it has none)")
	}
	return cmd
}

// projectGet prints one project with its rules.
func projectGet(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a project: members, quotas and what its apps may touch",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			var p projectapi.Project
			if err := api.do("GET", pathOf(projectapi.Prefix, args[0]), nil, &p); err != nil {
				return projectNotFound(err, args[0])
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "Name:\t%s\nNamespace:\t%s\n", p.Name, p.Namespace)
			for _, m := range p.Members {
				fmt.Fprintf(w, "Member:\t%s %s (%s)\n", strings.ToLower(string(m.Kind)), m.Name, m.Role)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			return printRules(cmd.OutOrStdout(), p)
		},
	}
}

func printRules(out io.Writer, p projectapi.Project) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Destinations:\t%s and its own virtual clusters (always)\n", p.Namespace)
	for _, d := range p.AllowedDestinations {
		cluster := d.Server
		if cluster == "" {
			cluster = d.Name
		}
		fmt.Fprintf(w, "\t%s=%s\n", cluster, d.Namespace)
	}
	repos := "any https or ssh repository"
	if len(p.SourceRepos) > 0 {
		repos = strings.Join(p.SourceRepos, ", ")
	}
	if p.LocalRepositories {
		repos += "; local repositories (file://) too"
	}
	fmt.Fprintf(w, "Source repositories:\t%s\n", repos)
	kinds := "none on shared clusters, any in its own virtual clusters"
	if len(p.ClusterResourceWhitelist) > 0 {
		var ks []string
		for _, gk := range p.ClusterResourceWhitelist {
			ks = append(ks, gk.Group+"/"+gk.Kind)
		}
		kinds = strings.Join(ks, ", ")
	}
	fmt.Fprintf(w, "Cluster-scoped kinds:\t%s\n", kinds)
	fmt.Fprintf(w, "Pod security:\t%s\n", p.PodSecurity)
	ingress := "only from itself and gantry"
	if p.Network.OpenIngress {
		ingress = "from anywhere on the host"
	}
	fmt.Fprintf(w, "Ingress to its virtual clusters:\t%s\n", ingress)
	storage := "SQLite, each its own (gantry's default)"
	if s := p.VirtualClusterStorage; s != nil {
		storage = "a database each on the server of Secret " + p.Namespace + "/" + s.SecretName
	}
	fmt.Fprintf(w, "Virtual cluster storage:\t%s\n", storage)
	own := "not allowed"
	if p.VirtualClusterOwnStorage {
		own = "allowed: gantry connects to the server a cluster names"
	}
	fmt.Fprintf(w, "Storage a cluster names itself:\t%s\n", own)
	return w.Flush()
}
