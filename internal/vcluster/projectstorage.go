package vcluster

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	// The drivers kine itself uses for these servers, registered for
	// database/sql: kine creates a cluster's database on its first
	// connection; gantry drops a deleted cluster's.
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "gantry.dev/gantry/api/platform/v1alpha1"
)

// A project's virtual clusters that name no storage of their own share the
// project's database server (spec.virtualClusterStorage), one database each.
// The database's name carries the cluster's uid, so a cluster deleted and
// created again under the same name starts empty even if a drop was missed.

// onProjectStorage says whether vc keeps its data on its project's server.
func onProjectStorage(vc *platformv1alpha1.VirtualCluster, proj *platformv1alpha1.Project) bool {
	own := vc.Spec.Storage != nil && (vc.Spec.Storage.DSN != "" || vc.Spec.Storage.SecretName != "")
	return !own && proj != nil && proj.Spec.VirtualClusterStorage != nil && proj.Spec.VirtualClusterStorage.SecretName != ""
}

// projectServerDSN reads the DSN of the project's server from its Secret in
// the cluster's namespace (the project's). Errors name the Secret and the
// key, never the value.
func (r *Reconciler) projectServerDSN(ctx context.Context, vc *platformv1alpha1.VirtualCluster, proj *platformv1alpha1.Project) (string, error) {
	name := proj.Spec.VirtualClusterStorage.SecretName
	secret := &corev1.Secret{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: vc.Namespace, Name: name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("project %s's storage Secret %s/%s does not exist: create it with the server's DSN under key %q", proj.Name, vc.Namespace, name, StorageSecretKey)
		}
		return "", fmt.Errorf("reading project %s's storage Secret %s/%s: %w", proj.Name, vc.Namespace, name, err)
	}
	dsn := string(secret.Data[StorageSecretKey])
	if !storageURL.MatchString(dsn) {
		return "", fmt.Errorf("project %s's storage Secret %s/%s: key %q must hold a postgres://, postgresql:// or mysql:// URL", proj.Name, vc.Namespace, name, StorageSecretKey)
	}
	return dsn, nil
}

var notIdentifier = regexp.MustCompile(`[^a-z0-9_]+`)

// ClusterDatabase is the database of vc on its project's server: at most 63
// characters (PostgreSQL's limit; MySQL's is 64), only [a-z0-9_], so it needs
// no quoting anywhere.
func ClusterDatabase(vc *platformv1alpha1.VirtualCluster) string {
	base := notIdentifier.ReplaceAllString(strings.ToLower(vc.Namespace+"_"+vc.Name), "_")
	uid := notIdentifier.ReplaceAllString(strings.ToLower(string(vc.UID)), "")
	if len(uid) > 8 {
		uid = uid[:8]
	}
	if len(base) > 47 {
		base = base[:47]
	}
	return "gantry_" + base + "_" + uid
}

// withDatabase is dsn pointing at database db on the same server.
func withDatabase(dsn, db string) (string, error) {
	if rest, ok := strings.CutPrefix(dsn, "mysql://"); ok {
		// kine's MySQL form, user:pass@tcp(host:port)/database?params, is no URL.
		at := strings.LastIndex(rest, "@")
		slash := strings.Index(rest[at+1:], "/")
		params := ""
		if q := strings.Index(rest, "?"); q >= 0 {
			rest, params = rest[:q], rest[q:]
		}
		if slash >= 0 {
			rest = rest[:at+1+slash]
		}
		return "mysql://" + rest + "/" + db + params, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("the storage DSN is not a URL") // never the value: it holds a password
	}
	u.Path, u.RawPath = "/"+db, ""
	return u.String(), nil
}

// dropDatabase drops database db on the server of serverDSN; gone already is
// fine. The cluster's control plane has stopped: PostgreSQL's FORCE ends what
// connections a killed kine may have left.
func dropDatabase(ctx context.Context, serverDSN, db string) error {
	if !regexp.MustCompile(`^[a-z0-9_]+$`).MatchString(db) {
		return fmt.Errorf("database name %q is not gantry's", db)
	}
	driver, dsn, stmt := "pgx", serverDSN, `DROP DATABASE IF EXISTS "`+db+`" WITH (FORCE)`
	if rest, ok := strings.CutPrefix(serverDSN, "mysql://"); ok {
		driver, dsn, stmt = "mysql", rest, "DROP DATABASE IF EXISTS `"+db+"`"
	} else if rest, ok := strings.CutPrefix(serverDSN, "postgresql://"); ok {
		dsn = "postgres://" + rest
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		return fmt.Errorf("connecting to the project's storage server: %w", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("dropping database %s on the project's storage server: %w", db, err)
	}
	return nil
}
