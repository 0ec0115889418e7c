#!/usr/bin/env bash
# Copies cert-manager's CRDs into the folder given, for the chart's
# cert-manager mode (test/chart). cert-manager's commands are not fetchable as
# Go modules, but its main module is, and it ships the CRDs as plain files in
# deploy/crds: the same schemas its Helm chart installs (its chart only adds
# labels and a keep annotation around them).
set -euo pipefail
version=$1 out=$2

# Outside our module, so our go.mod and go.sum stay untouched.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dir=$(cd "$tmp" && go mod download -json "github.com/cert-manager/cert-manager@$version" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
if [[ -z $dir || ! -d $dir/deploy/crds ]]; then
	echo "cert-manager $version: no deploy/crds in the downloaded module ($dir)" >&2
	exit 1
fi
# Into a temporary sibling first: an interrupted copy leaves no half folder
# that make would take as done.
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
cp "$dir"/deploy/crds/*.yaml "$out.tmp/"
chmod u+w "$out.tmp"/*.yaml
mv "$out.tmp" "$out"
