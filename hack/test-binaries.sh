#!/usr/bin/env bash
# Builds each package's test binary into a kept directory and runs them, as
# `go test -count=1` would.
#
# Why not plain `go test`: it links every test binary again on each run, even
# when nothing changed (4-25 s per package here, gantry's test binaries link
# most of Kubernetes): about half of the unit phase's nine minutes on a 2-core
# machine. `go test -c -o DIR/` leaves an up-to-date binary alone, so a second
# run only links the packages that changed. go test's own flags for a test
# binary are few (-test.count, -test.timeout, -test.paniconexit0, run in the
# package's directory); they are reproduced here.
#
#   hack/test-binaries.sh BIN_DIR TIMEOUT PACKAGE...
#
# Output per package: "ok  <package> <seconds>s", or its whole output then
# "FAIL <package>". The slowest packages (by their last run, kept in
# BIN_DIR/.elapsed) start first so that no long one is left for the end.
set -euo pipefail

if [[ ${1:-} == --one ]]; then
	# One package: --one BIN_DIR TIMEOUT "IMPORTPATH DIR NAME"
	bindir=$2 timeout=$3
	read -r pkg dir name <<<"$4"
	bin=$bindir/$name.test
	log=$(mktemp)
	start=$(date +%s%N)
	set +e
	(cd "$dir" && "$bin" -test.count=1 -test.timeout="$timeout" -test.paniconexit0) >"$log" 2>&1
	code=$?
	set -e
	ms=$((($(date +%s%N) - start) / 1000000))
	secs=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
	echo "$secs" >"$bindir/.elapsed/$name"
	{
		flock 9
		if [[ $code == 0 ]]; then
			printf 'ok  \t%s\t%ss\n' "$pkg" "$secs"
		else
			cat "$log"
			printf 'FAIL\t%s\t%ss\n' "$pkg" "$secs"
		fi
	} 9>"$bindir/.print.lock"
	rm -f "$log"
	exit $((code == 0 ? 0 : 1)) # xargs stops everything on 255
fi

mkdir -p "$1/.elapsed"
bindir=$(cd "$1" && pwd) timeout=$2
shift 2

# "importpath dir" of the packages with tests (go test -c -o DIR/ refuses two
# packages of one name, v1alpha1 twice, even when they have no tests).
pkgs=$(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' "$@")
if [[ -z $pkgs ]]; then
	echo "no test files in $*"
	exit 0
fi
# shellcheck disable=SC2046 # one word per import path
go test -c -vet=off -ldflags=-w -o "$bindir/" $(cut -d' ' -f1 <<<"$pkgs")

# Slowest first, by the last run (never run: 0). go test -c -o DIR/ names a
# binary after the import path's last element.
list=$(while read -r pkg dir; do
	name=${pkg##*/}
	secs=$(cat "$bindir/.elapsed/$name" 2>/dev/null || echo 0)
	echo "$secs $pkg $dir $name"
done <<<"$pkgs" | sort -rn | cut -d' ' -f2-)

status=0
printf '%s\n' "$list" | xargs -d '\n' -P "$(nproc)" -I{} "$0" --one "$bindir" "$timeout" {} || status=$?
if [[ $status != 0 ]]; then
	echo "FAIL: see the packages marked FAIL above"
	exit 1
fi
