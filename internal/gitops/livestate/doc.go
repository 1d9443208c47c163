// Package livestate keeps the live state of what Applications manage, per
// destination cluster, from watches rather than polling (as Argo CD's cluster
// cache does): one dynamic informer per kind in use, filtered server-side by the
// label the sync step stamps on managed objects, indexed by the owning app. A
// change to a managed object (a `kubectl edit`, a deletion, a status update) calls
// back with the app's key so the controller compares that app again at once.
package livestate
