# Sourced by infra/tf-validate.sh and infra/tf-apply-moto.sh: the AWS provider from a local
# plugin mirror, no registry download. `tf_mirror DIR` writes DIR/cli.tfrc and exports it, or
# returns 1 (saying so) when there is no mirror. TF_PLUGIN_MIRROR: the mirror (default: found
# under /opt, /usr/share, /usr/local/share, ~/.terraform.d).
tf_mirror() {
  mirror=${TF_PLUGIN_MIRROR:-}
  if [ -z "$mirror" ]; then
    found=$(find /opt /usr/share /usr/local/share "$HOME/.terraform.d" -path '*registry.terraform.io/hashicorp/aws/*' -name 'terraform-provider-aws*' 2>/dev/null | head -1)
    [ -n "$found" ] && mirror=${found%%/registry.terraform.io/*}
  fi
  if [ -z "$mirror" ]; then
    echo "no local mirror of the AWS provider (set TF_PLUGIN_MIRROR)" >&2
    return 1
  fi
  cat > "$1/cli.tfrc" <<EOT
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct { exclude = ["registry.terraform.io/hashicorp/aws"] }
}
EOT
  export TF_CLI_CONFIG_FILE="$1/cli.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
}
