#!/bin/sh
# `terraform apply` of the Terraform root (the example's three regions)
# into moto_server, then `terraform destroy`: every argument, reference and ARN the AWS provider
# sends is taken by an AWS API (moto's), not only validated. Dummy function packages stand in
# for `make package`'s. MOTO: the moto_server binary (default .venv/bin/moto_server).
# TERRAFORM and TF_PLUGIN_MIRROR as in infra/tf-validate.sh.
# Left out, because moto cannot take them (everything else is applied):
# - the status site's CloudFront (status_site = "bucket"): moto 5.2.6 never reports a CloudFront
#   function as published, and the provider waits for it forever;
# - customer mail (no mail_domain): moto 5.2.6 answers SES v2's GetConfigurationSet with
#   SendingOptions.SendingEnabled as an object (it nests the options it was given), which the
#   provider cannot read, and the mailer and the pages function name that configuration set.
#   (The pages' HTTP API is the same module as the ping endpoint's, which is applied.)
set -eu
terraform=${TERRAFORM:-terraform}
moto=${MOTO:-.venv/bin/moto_server}
mirror=${TF_PLUGIN_MIRROR:-}
if [ -z "$mirror" ]; then
  found=$(find /opt /usr/share /usr/local/share "$HOME/.terraform.d" -path '*registry.terraform.io/hashicorp/aws/*' -name 'terraform-provider-aws*' 2>/dev/null | head -1)
  [ -n "$found" ] && mirror=${found%%/registry.terraform.io/*}
fi
if [ -z "$mirror" ]; then
  echo "tf-apply-moto: no local mirror of the AWS provider (set TF_PLUGIN_MIRROR); skipped" >&2
  exit 0
fi
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$moto" -H 127.0.0.1 -p "$port" > "$tmp/moto.log" 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null; rm -rf "$tmp"' EXIT
cp -r infra/terraform "$tmp/tf"
mkdir -p "$tmp/dist"
for f in probe alert rollup ping mailer pages; do
  python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w'); z.writestr('bootstrap','#!/bin/sh\n'); z.close()" "$tmp/dist/atalaya-$f.zip"
done
example="$tmp/tf/examples/three-regions"
# Every provider of the example, pointed at moto.
endpoint="http://127.0.0.1:$port"
{
  for p in home:eu-west-1 us_east_1:us-east-1 ap_southeast_2:ap-southeast-2; do
    alias=${p%%:*}; region=${p#*:}
    cat <<EOT
provider "aws" {
  alias                       = "$alias"
  region                      = "$region"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  endpoints {
    apigatewayv2   = "$endpoint"
    cloudfront     = "$endpoint"
    cloudwatch     = "$endpoint"
    cloudwatchlogs = "$endpoint"
    dynamodb       = "$endpoint"
    iam            = "$endpoint"
    kms            = "$endpoint"
    lambda         = "$endpoint"
    s3             = "$endpoint"
    scheduler      = "$endpoint"
    sesv2          = "$endpoint"
    sns            = "$endpoint"
    sqs            = "$endpoint"
    sts            = "$endpoint"
  }
}
EOT
  done
} > "$example/moto_override.tf"
sed -i "s|\${path.module}/../../../../dist|$tmp/dist|" "$example/main.tf"
# No CloudFront (see above).
sed -i 's|^  ping_package           = "\${local.dist}/atalaya-ping.zip"|&\n  status_site            = "bucket"|' "$example/main.tf"
cat > "$example/terraform.tfvars" <<EOT
operator_emails        = ["oncall@example.com"]
customer_subscriptions = [{ email = "it@acme.example", customer = "acme", services = [] }]
EOT
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
for i in $(seq 50); do curl -s "$endpoint/moto-api/" > /dev/null && break; sleep 0.2; done
"$terraform" -chdir="$example" init -input=false -no-color > "$tmp/init.log" 2>&1 || { cat "$tmp/init.log" >&2; exit 1; }
if ! timeout 900 "$terraform" -chdir="$example" apply -input=false -auto-approve -no-color -parallelism=4 ${TF_APPLY_ARGS:-} > "$tmp/apply.log" 2>&1; then
  grep -v '^\s*$' "$tmp/apply.log" | tail -60 >&2
  echo "tf-apply-moto: terraform apply into moto failed" >&2
  exit 1
fi
created=$("$terraform" -chdir="$example" state list | wc -l)
# The tables keep what the monitor knows: deletion protection is on, and removing an installation
# starts by turning it off (docs/deploy.md, "Removing an installation"), as here.
${PYTHON:-.venv/bin/python} - "$endpoint" <<'EOT'
import sys, boto3
ddb = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=sys.argv[1], aws_access_key_id="testing", aws_secret_access_key="testing")
for name in ddb.list_tables()["TableNames"]:
    ddb.update_table(TableName=name, DeletionProtectionEnabled=False)
EOT
if ! timeout 600 "$terraform" -chdir="$example" destroy -input=false -auto-approve -no-color -parallelism=4 > "$tmp/destroy.log" 2>&1; then
  grep -v '^\s*$' "$tmp/destroy.log" | tail -40 >&2
  echo "tf-apply-moto: terraform destroy failed" >&2
  exit 1
fi
left=$("$terraform" -chdir="$example" state list | wc -l)
[ "$left" -eq 0 ] || { echo "tf-apply-moto: $left resources left after destroy" >&2; exit 1; }
echo "tf-apply-moto: terraform apply created $created resources in moto (three regions; without CloudFront and customer mail, which moto cannot take) and destroy removed them all"
