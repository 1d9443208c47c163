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
	projectpkg "gantry.dev/gantry/internal/project"
)

// A project's virtual clusters that name no storage of their own share the
// project's database server (spec.virtualClusterStorage), one database each.
// The database's name carries the cluster's uid, so a cluster deleted and
// created again under the same name starts empty even if a drop was missed.
//
// Who reaches what. The project's server credential is in a Secret in
// p-<project>, where the project's own apps deploy: its members can read it,
// so it must reach only that project's databases. Each database gantry makes
// is closed to PUBLIC (PostgreSQL grants CONNECT and TEMPORARY to everyone
// by default): another project's role, with a credential of the same kind on
// the same server, cannot even connect to it. A role per cluster is not made,
// on purpose: the project's credential creates (and owns) every cluster's
// database, so it would not keep a member from any cluster of their project,
// and members already hold every cluster of their project. The boundary is
// the project; an administrator gives each project a role of its own
// (CREATEDB, no superuser), never one credential to two projects.
//
// A cluster's own datastore (spec.storage) is another matter: gantry
// connects to whatever server a DSN names, from where it runs, and shows what
// that server answered. So in a project it takes the project's
// virtualClusterOwnStorage, which only an administrator sets, checked by the
// API and, for objects written any other way, by the reconciler before
// anything connects.

// OwnStorage says whether vc names a datastore of its own (spec.storage.dsn
// or secretName) rather than SQLite or its project's server.
func OwnStorage(vc *platformv1alpha1.VirtualCluster) bool {
	return vc.Spec.Storage != nil && (vc.Spec.Storage.DSN != "" || vc.Spec.Storage.SecretName != "")
}

// OwnStorageRefusal is why vc may not use the datastore it names, "" when it
// may (or names none). In a project's namespace it needs the project's
// virtualClusterOwnStorage; elsewhere only administrators make clusters.
func OwnStorageRefusal(vc *platformv1alpha1.VirtualCluster, proj *platformv1alpha1.Project) string {
	if !OwnStorage(vc) {
		return ""
	}
	name, inProject := projectpkg.FromNamespace(vc.Namespace)
	if !inProject {
		return ""
	}
	if proj == nil {
		return fmt.Sprintf("project %s does not exist: its virtual clusters cannot name storage of their own", name)
	}
	if proj.Spec.VirtualClusterOwnStorage {
		return ""
	}
	return fmt.Sprintf("project %s does not allow virtual clusters to name storage of their own (storage.dsn, storage.secretName), "+
		"since gantry would connect to whatever server they name: leave storage out for the project's default, "+
		"or have an administrator allow it (gantry project allow %s --vcluster-own-storage)", name, name)
}

// onProjectStorage says whether vc keeps its data on its project's server.
func onProjectStorage(vc *platformv1alpha1.VirtualCluster, proj *platformv1alpha1.Project) bool {
	return !OwnStorage(vc) && proj != nil && proj.Spec.VirtualClusterStorage != nil && proj.Spec.VirtualClusterStorage.SecretName != ""
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
// no quoting anywhere and no name can smuggle SQL into a create or a drop.
// Namespace and name alone can collide (p-shop-x/web and p-shop/x-web, or
// two long names cut at the same place); the first 8 hex digits of the uid,
// which the API server draws at random, keep them apart: no one chooses a
// name to land on another cluster's database.
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

// serverDB opens the server of a project's storage DSN for database/sql, to
// create or drop database db, which must be a name gantry gives (checked
// here, before any statement names it).
func serverDB(serverDSN, db string) (*sql.DB, bool, error) {
	if !gantryDatabase.MatchString(db) {
		return nil, false, fmt.Errorf("database name %q is not gantry's", db)
	}
	driver, dsn := "pgx", serverDSN
	if rest, ok := strings.CutPrefix(serverDSN, "mysql://"); ok {
		driver, dsn = "mysql", rest
	} else if rest, ok := strings.CutPrefix(serverDSN, "postgresql://"); ok {
		dsn = "postgres://" + rest
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, false, fmt.Errorf("connecting to the project's storage server: %w", err)
	}
	return conn, driver == "mysql", nil
}

var gantryDatabase = regexp.MustCompile(`^gantry_[a-z0-9_]+$`)

// createDatabase makes database db on the server of serverDSN unless it
// exists, and closes it to PUBLIC on PostgreSQL (again for one made before
// gantry did so, when this credential owns it): only its owner, the
// project's role, connects. MySQL grants nothing to anyone by default.
// Made here rather than by kine on its first connection, which would leave
// PostgreSQL's default grants.
func createDatabase(ctx context.Context, serverDSN, db string) error {
	conn, mysql, err := serverDB(serverDSN, db)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if mysql {
		if _, err := conn.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+db+"`"); err != nil {
			return fmt.Errorf("creating database %s on the project's storage server: %w", db, err)
		}
		return nil
	}
	var exists bool
	if err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		return fmt.Errorf("looking for database %s on the project's storage server: %w", db, err)
	}
	if !exists {
		if _, err := conn.ExecContext(ctx, `CREATE DATABASE "`+db+`"`); err != nil {
			return fmt.Errorf("creating database %s on the project's storage server: %w", db, err)
		}
	}
	// Not the owner (another role made it): PostgreSQL warns and revokes
	// nothing, which is no reason to keep the cluster down.
	if _, err := conn.ExecContext(ctx, `REVOKE ALL ON DATABASE "`+db+`" FROM PUBLIC`); err != nil {
		return fmt.Errorf("closing database %s to other roles on the project's storage server: %w", db, err)
	}
	return nil
}

// dropDatabase drops database db on the server of serverDSN; gone already is
// fine. The cluster's control plane has stopped: PostgreSQL's FORCE ends what
// connections a killed kine may have left.
func dropDatabase(ctx context.Context, serverDSN, db string) error {
	conn, mysql, err := serverDB(serverDSN, db)
	if err != nil {
		return err
	}
	defer conn.Close()
	stmt := `DROP DATABASE IF EXISTS "` + db + `" WITH (FORCE)`
	if mysql {
		stmt = "DROP DATABASE IF EXISTS `" + db + "`"
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("dropping database %s on the project's storage server: %w", db, err)
	}
	return nil
}
