#!/usr/bin/env bash
# Installs what the tests start themselves, from Debian's packages, when it is
# missing: Chromium for the browser tests (test/browser, and the Argo CD
# sign-in of test/e2e), sshd for Git over ssh (gitops/source), git for the Git
# servers, redis-server for the real Argo CD (internal/argocdtest), and as root
# containerd, runc, the CNI plugins and iptables for the real node
# (internal/realnode; without root its tests skip, saying so). `make test` runs
# it first, so a fresh Debian machine needs nothing by hand. Not root: say what
# to install.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || [[ -n "${CHROMIUM:-}" ]] || missing+=(chromium)
[[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# PostgreSQL, started by the test of control planes as pods as their external
# kine store (test/e2e; Debian's initdb and postgres under /usr/lib/postgresql).
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
# strip, for make image (TestRealNodes/HelmInstall's image); it comes with cgo's gcc.
command -v strip >/dev/null 2>&1 || missing+=(binutils)
if [[ $(id -u) -eq 0 ]]; then
	command -v containerd >/dev/null 2>&1 && command -v ctr >/dev/null 2>&1 || missing+=(containerd)
	command -v runc >/dev/null 2>&1 || missing+=(runc)
	[[ -x /usr/lib/cni/bridge || -x /opt/cni/bin/bridge ]] || missing+=(containernetworking-plugins)
	command -v iptables >/dev/null 2>&1 || missing+=(iptables)
fi
((${#missing[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
	echo "the tests need ${missing[*]}: run  sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "installing what the tests start: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
