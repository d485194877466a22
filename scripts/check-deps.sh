#!/usr/bin/env bash
# Fails when a package imports against the dependency graph of STYLE.md §3:
#   ttlv, audit, hsmbackend: leaves (hsmbackend may use miekg/pkcs11)
#   kmip -> ttlv only (no PKCS#11, bbolt, ACL or audit)
#   acl -> kmip; objects -> kmip, ttlv, bbolt; service -> all but cmd
#   pkcs12: a leaf (standard library only)
# Only non-test imports count: tests may reach further (conformance does).
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
fail=0

# forbid PKG PATTERN...: PKG must not depend (even indirectly) on any pattern.
forbid() {
  local pkg=$1; shift
  local deps
  deps=$(go list -deps "./$pkg/..." 2>/dev/null | grep -v '^[a-z]*$' || true)
  for pat in "$@"; do
    local bad
    bad=$(printf '%s\n' "$deps" | grep -E "^${pat}(/|$)" || true)
    if [ -n "$bad" ]; then
      echo "dependency arrow points the wrong way: $pkg imports $(echo $bad | tr '\n' ' ')" >&2
      fail=1
    fi
  done
}

forbid ttlv       "$mod/kmip" "$mod/objects" "$mod/hsmbackend" "$mod/acl" "$mod/audit" "$mod/service" "github.com/hashicorp/go-hclog" "go.etcd.io/bbolt" "github.com/miekg/pkcs11"
forbid audit      "$mod/ttlv" "$mod/kmip" "$mod/objects" "$mod/hsmbackend" "$mod/acl" "$mod/service" "github.com/hashicorp/go-hclog" "go.etcd.io/bbolt" "github.com/miekg/pkcs11"
forbid hsmbackend "$mod/ttlv" "$mod/kmip" "$mod/objects" "$mod/acl" "$mod/audit" "$mod/service" "go.etcd.io/bbolt"
forbid kmip       "$mod/objects" "$mod/hsmbackend" "$mod/acl" "$mod/audit" "$mod/service" "go.etcd.io/bbolt" "github.com/miekg/pkcs11"
forbid acl        "$mod/objects" "$mod/hsmbackend" "$mod/audit" "$mod/service" "go.etcd.io/bbolt" "github.com/miekg/pkcs11"
forbid objects    "$mod/hsmbackend" "$mod/acl" "$mod/audit" "$mod/service" "github.com/miekg/pkcs11"
forbid service    "$mod/cmd" "$mod/conformance"
forbid pkcs12     "$mod/ttlv" "$mod/kmip" "$mod/objects" "$mod/hsmbackend" "$mod/acl" "$mod/audit" "$mod/service" "github.com/hashicorp/go-hclog" "go.etcd.io/bbolt" "github.com/miekg/pkcs11"
forbid certs      "$mod/ttlv" "$mod/kmip" "$mod/objects" "$mod/hsmbackend" "$mod/acl" "$mod/audit" "$mod/service"
forbid kmipclient "$mod/objects" "$mod/hsmbackend" "$mod/acl" "$mod/audit" "$mod/service" "go.etcd.io/bbolt" "github.com/miekg/pkcs11"
# gemalto/kmip-go is a test client and reference codec only.
for p in ttlv kmip objects hsmbackend acl audit service certs cmd; do
  [ -d "$p" ] && forbid "$p" "github.com/gemalto/kmip-go"
done

if [ $fail -ne 0 ]; then
  echo "hint: see STYLE.md §3 (dependency graph); move the code to the layer that may know both sides" >&2
  exit 1
fi
echo "dependency arrows: ok"
