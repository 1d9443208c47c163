#!/usr/bin/env bash
# Regenerates deepcopy code and CRD manifests from the types in api/.
# controller-gen is pinned by tools/codegen/go.mod and built on first use.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

controller_gen="$root/bin/controller-gen"
if [[ ! -x "$controller_gen" ]]; then
	(cd tools/codegen && go build -o "$controller_gen" sigs.k8s.io/controller-tools/cmd/controller-gen)
fi

"$controller_gen" object paths=./api/...
"$controller_gen" crd paths=./api/... output:crd:artifacts:config=config/crd
# The Helm chart installs the same CRDs (deploy/helm's test checks they match).
rm -f deploy/helm/gantry/crds/*.yaml
cp config/crd/*.yaml deploy/helm/gantry/crds/
