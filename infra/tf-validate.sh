#!/bin/sh
# `terraform init` and `terraform validate` on the Terraform root, each module and each example,
# with the AWS provider taken from a local plugin mirror (no registry download): every argument,
# reference and type checked by the provider itself, not only formatted. The tree is copied to a
# temporary folder so nothing (.terraform, lock files) is left in the repository.
# TERRAFORM: the binary (default terraform). TF_PLUGIN_MIRROR: as in infra/tf-mirror.sh.
set -eu
terraform=${TERRAFORM:-terraform}
. infra/tf-mirror.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tf_mirror "$tmp" || { echo "tf-validate: terraform validate skipped" >&2; exit 0; }
cp -r infra/terraform "$tmp/tf"
for dir in "$tmp/tf" "$tmp"/tf/modules/* "$tmp"/tf/examples/*; do
  name=${dir#"$tmp/tf"}
  if ! "$terraform" -chdir="$dir" init -backend=false -input=false -no-color > "$tmp/init.log" 2>&1; then
    cat "$tmp/init.log" >&2
    echo "tf-validate: terraform init failed in infra/terraform$name" >&2
    exit 1
  fi
  "$terraform" -chdir="$dir" validate -no-color > "$tmp/validate.log" 2>&1 || {
    cat "$tmp/validate.log" >&2
    echo "tf-validate: terraform validate failed in infra/terraform$name" >&2
    exit 1
  }
done
echo "tf-validate: terraform validate passes on the root, the modules and the examples (provider from $mirror)"
