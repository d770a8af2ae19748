#!/bin/sh
# `terraform init` and `terraform validate` on the Terraform root, each module and each example,
# with the AWS provider taken from a local plugin mirror (no registry download): every argument,
# reference and type checked by the provider itself, not only formatted. The tree is copied to a
# temporary folder so nothing (.terraform, lock files) is left in the repository.
# TERRAFORM: the binary (default terraform). TF_PLUGIN_MIRROR: the mirror (default: found under
# /opt, /usr/share, ~/.terraform.d).
set -eu
terraform=${TERRAFORM:-terraform}
mirror=${TF_PLUGIN_MIRROR:-}
if [ -z "$mirror" ]; then
  found=$(find /opt /usr/share /usr/local/share "$HOME/.terraform.d" -path '*registry.terraform.io/hashicorp/aws/*' -name 'terraform-provider-aws*' 2>/dev/null | head -1)
  [ -n "$found" ] && mirror=${found%%/registry.terraform.io/*}
fi
if [ -z "$mirror" ]; then
  echo "tf-validate: no local mirror of the AWS provider (set TF_PLUGIN_MIRROR); terraform validate skipped" >&2
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r infra/terraform "$tmp/tf"
cat > "$tmp/cli.tfrc" <<EOT
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct { exclude = ["registry.terraform.io/hashicorp/aws"] }
}
EOT
export TF_CLI_CONFIG_FILE="$tmp/cli.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
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
