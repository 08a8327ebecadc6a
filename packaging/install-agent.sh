#!/bin/sh
# Installs the gse-gitops agent on this host from a package built by `gsectl artifact build`, writes its
# settings (/etc/gse/agent.env, 0600), installs the systemd unit and starts it; the agent enrolls with the
# bootstrap token on its first connection and keeps its own credential from then on.
#
#   install-agent.sh --controller wss://ctl.example:7070/agent --ca ca.crt --token-file token \
#     (--artifact gse-agent-1.4.2.tgz | --artifact-url https://ctl.example:7070/api/v1/artifacts/gse-agent-1.4.2.tgz)
#     [--sha256 HEX] [--labels env=prod,role=web] [--name NAME] [--insecure] [--no-start] [--prefix DIR]
#
# --artifact-url downloads with the API token in GSE_API_TOKEN (any role) and trusts only --ca.
# --prefix DIR puts /etc, /opt and /var under DIR and starts nothing (staging, tests).
set -eu

die() { echo "install-agent: $*" >&2; exit 2; }

controller='' ca='' token_file='' artifact='' artifact_url='' sha256='' labels='' name=''
insecure=0 start=1 prefix=''
while [ $# -gt 0 ]; do
  case "$1" in
    --controller) controller=${2:?}; shift 2 ;;
    --ca) ca=${2:?}; shift 2 ;;
    --token-file) token_file=${2:?}; shift 2 ;;
    --artifact) artifact=${2:?}; shift 2 ;;
    --artifact-url) artifact_url=${2:?}; shift 2 ;;
    --sha256) sha256=${2:?}; shift 2 ;;
    --labels) labels=${2:?}; shift 2 ;;
    --name) name=${2:?}; shift 2 ;;
    --insecure) insecure=1; shift ;;
    --no-start) start=0; shift ;;
    --prefix) prefix=${2:?}; start=0; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

[ -n "$controller" ] || die "--controller URL is required (wss://HOST:PORT/agent)"
case "$controller" in
  wss://*) [ -n "$ca" ] || die "--ca FILE is required with wss:// (the CA that signed the controller's certificate)" ;;
  ws://*) [ "$insecure" = 1 ] || die "a ws:// controller sends the token in clear; use wss:// with --ca, or --insecure in a lab" ;;
  *) die "--controller must be a wss:// (or, with --insecure, ws://) URL, not $controller" ;;
esac
token=${GSE_BOOTSTRAP_TOKEN:-}
if [ -n "$token_file" ]; then token=$(cat "$token_file") || die "cannot read --token-file $token_file"; fi
[ -n "$token" ] || die "the bootstrap token is required: --token-file FILE or GSE_BOOTSTRAP_TOKEN"
[ -n "$artifact" ] || [ -n "$artifact_url" ] || die "--artifact FILE or --artifact-url URL is required (gsectl artifact build)"
command -v node >/dev/null || die "Node.js 20 or newer is required on the host (node not found)"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || die "Node.js 20 or newer is required on the host (found $(node --version))"

etc="$prefix/etc/gse" install_dir="$prefix/opt/gse-agent" state_dir="$prefix/var/lib/gse-agent"
unit_dir="$prefix/etc/systemd/system"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -n "$artifact_url" ]; then
  artifact="$work/$(basename "$artifact_url")"
  set -- -fsSL --retry 3 -o "$artifact"
  [ -n "$ca" ] && set -- "$@" --cacert "$ca"
  [ -n "${GSE_API_TOKEN:-}" ] && set -- "$@" -H "Authorization: Bearer $GSE_API_TOKEN"
  curl "$@" "$artifact_url" || die "cannot download $artifact_url (is GSE_API_TOKEN set, and --ca right?)"
fi
[ -f "$artifact" ] || die "no such package: $artifact"
if [ -n "$sha256" ]; then
  got=$(sha256sum "$artifact" | cut -d' ' -f1)
  [ "$got" = "$sha256" ] || die "sha256 of $artifact is $got, expected $sha256: not installed"
fi

umask 077
mkdir -p "$etc" "$install_dir" "$state_dir" "$unit_dir"
chmod 0700 "$state_dir"
tar -xzf "$artifact" -C "$work"
"$work/bin/gse-agent" install --artifact "$artifact" --install-dir "$install_dir"

if [ -n "$ca" ]; then cp "$ca" "$etc/ca.crt"; chmod 0644 "$etc/ca.crt"; fi
args=''
[ -n "$labels" ] && args="$args --labels $labels"
[ -n "$name" ] && args="$args --name $name"
[ "$insecure" = 1 ] && args="$args --insecure"
env_file="$etc/agent.env"
{
  echo "GSE_CONTROLLER=$controller"
  [ -n "$ca" ] && echo "GSE_CA=/etc/gse/ca.crt"
  echo "GSE_BOOTSTRAP_TOKEN=$token"
  echo "GSE_AGENT_ARGS=${args# }"
} > "$env_file.tmp"
chmod 0600 "$env_file.tmp"
mv "$env_file.tmp" "$env_file"

here=$(cd "$(dirname "$0")" && pwd)
unit="$here/systemd/gse-agent.service"
[ -f "$unit" ] || die "the unit file $unit is missing beside this script"
umask 022
cp "$unit" "$unit_dir/gse-agent.service"
chmod 0644 "$unit_dir/gse-agent.service"

echo "installed $(cat "$install_dir/current/dist/VERSION") in $install_dir; settings in $env_file"
if [ "$start" = 0 ]; then
  echo "not started; to start: systemctl daemon-reload && systemctl enable --now gse-agent"
  exit 0
fi
command -v systemctl >/dev/null || die "systemctl not found: start the agent with the ExecStart line of $unit_dir/gse-agent.service"
systemctl daemon-reload
systemctl enable --now gse-agent
i=0
while ! node -e "process.exit(require('$state_dir/identity.json').credential ? 0 : 1)" 2>/dev/null; do
  i=$((i + 1))
  [ "$i" -le 30 ] || die "started, but not enrolled after 30 s: journalctl -u gse-agent says why (token, CA, URL)"
  sleep 1
done
echo "enrolled: $(node -p "require('$state_dir/identity.json').agentId") (journalctl -u gse-agent for its log)"
