# shellcheck shell=bash
# One srdxd appliance on loopback for the demos (scripts/dr-demo,
# scripts/telemetry-demo): its secrets and its config file. Sourced; needs
# CTL (srdxctl).

# demo_node_secrets DIR: a 0600 API token and a private key (srdxctl genkey).
demo_node_secrets() {
  mkdir -p "$1"
  (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$1/token" &&
    "$CTL" genkey >"$1/private.key")
}

# demo_node_conf DIR PORT ENTROPY_BASE API PEER PEER_ADDR PEER_DIR PEER_ATTRS [LINES...]
# prints the srdxd.conf of the node whose secrets are in DIR: the engine on
# 127.0.0.1:PORT (8 entropy ports from ENTROPY_BASE), the control API on API,
# one peer named PEER at PEER_ADDR by the public key of PEER_DIR's private key
# (PEER_ATTRS, e.g. "site=...,region=...", added to its line when not empty),
# the TCP echo off, [replication] state-dir = DIR/state; then LINES.
demo_node_conf() {
  local dir=$1 port=$2 entropy=$3 api=$4 peer=$5 peer_addr=$6 peer_dir=$7 attrs=$8
  shift 8
  cat <<CONF
[link]
kind = udp
local = 127.0.0.1:$port
entropy-ports = $entropy:8
[keys]
private-key-file = $dir/private.key
[peers]
peer = $peer=$peer_addr,key=$("$CTL" pubkey <"$peer_dir/private.key")${attrs:+,$attrs}
[control]
listen = $api
token-file = $dir/token
[services]
tcp-echo = off
[replication]
state-dir = $dir/state
CONF
  printf '%s\n' "$@"
}
