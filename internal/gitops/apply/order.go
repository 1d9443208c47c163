package apply

import (
	"sort"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// kindRanks is Argo CD's kind order (gitops-engine's, itself Helm's install order):
// within a wave, kinds listed earlier are applied first; kinds not listed (custom
// resources) come last. It is built per sync because gantry keeps no mutable globals.
func kindRanks() map[string]int {
	kinds := []string{
		"Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
		"PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap",
		"StorageClass", "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition",
		"ClusterRole", "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList",
		"Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
		"ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler",
		"StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
	}
	ranks := make(map[string]int, len(kinds))
	for i, k := range kinds {
		ranks[k] = i - len(kinds) // negative, so that an unlisted kind (0) sorts last
	}
	return ranks
}

func phaseRank(p SyncPhase) int {
	switch p {
	case PhasePreSync:
		return -1
	case PhasePostSync:
		return 1
	case PhaseSyncFail:
		return 2
	}
	return 0
}

// sortTasks orders tasks by phase, wave, kind and name: Argo CD's order.
func sortTasks(tasks []*task) {
	ranks := kindRanks()
	sort.SliceStable(tasks, func(i, j int) bool {
		a, b := tasks[i], tasks[j]
		if d := phaseRank(a.phase) - phaseRank(b.phase); d != 0 {
			return d < 0
		}
		if a.wave != b.wave {
			return a.wave < b.wave
		}
		if d := ranks[a.key.Kind] - ranks[b.key.Kind]; d != 0 {
			return d < 0
		}
		if a.key.Name != b.key.Name {
			return a.key.Name < b.key.Name
		}
		return a.key.Namespace < b.key.Namespace
	})
}

// before tells whether (phase a, wave a) comes before (phase b, wave b).
func before(pa SyncPhase, wa int, pb SyncPhase, wb int) bool {
	if pa != pb {
		return phaseRank(pa) < phaseRank(pb)
	}
	return wa < wb
}

// pullDependencies moves each Namespace and each CRD of the sync to the phase and
// wave of the first task that needs it (an object in that namespace, a resource of
// that kind) when that task would otherwise run first, as gitops-engine does: a
// wave annotation cannot make an object run before what it lives in.
func pullDependencies(tasks []*task, crdKinds map[schema.GroupKind]*task) {
	for _, dep := range tasks {
		if dep.target == nil || dep.hook {
			continue
		}
		isNS := dep.key.Group == "" && dep.key.Kind == "Namespace"
		var definesGK schema.GroupKind
		isCRD := false
		for gk, t := range crdKinds {
			if t == dep {
				definesGK, isCRD = gk, true
			}
		}
		if !isNS && !isCRD {
			continue
		}
		for _, t := range tasks {
			if t == dep || t.target == nil {
				continue
			}
			needs := (isNS && t.key.Namespace == dep.key.Name) || (isCRD && t.gvk.GroupKind() == definesGK)
			if needs && before(t.phase, t.wave, dep.phase, dep.wave) {
				dep.phase, dep.wave = t.phase, t.wave
			}
		}
	}
}

// orderPrunes gives prune tasks their waves: the reverse of the waves their objects
// were created in (the highest wave is pruned first), and, for PruneLast, one wave
// after the last wave of the Sync phase. Argo CD swaps the distinct prune waves
// symmetrically; so does this.
func orderPrunes(tasks []*task) {
	byWave := map[int][]*task{}
	for _, t := range tasks {
		if t.prune() {
			byWave[t.wave] = append(byWave[t.wave], t)
		}
	}
	waves := make([]int, 0, len(byWave))
	for w := range byWave {
		waves = append(waves, w)
	}
	sort.Ints(waves)
	for i, w := range waves {
		for _, t := range byWave[w] {
			t.wave = waves[len(waves)-1-i]
		}
	}
	last := 0
	for _, t := range tasks {
		if t.phase == PhaseSync && t.wave > last {
			last = t.wave
		}
	}
	for _, t := range tasks {
		if t.prune() && t.opts.PruneLast {
			t.wave = last + 1
		}
	}
}

// steps splits sorted tasks into runs of one phase and wave.
func steps(tasks []*task) [][]*task {
	var out [][]*task
	for _, t := range tasks {
		if n := len(out); n > 0 && out[n-1][0].phase == t.phase && out[n-1][0].wave == t.wave {
			out[n-1] = append(out[n-1], t)
			continue
		}
		out = append(out, []*task{t})
	}
	return out
}
