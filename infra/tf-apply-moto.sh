#!/bin/sh
# `terraform apply` of the Terraform root (the example's three regions, and a private location
# in a VPC beside the eu-west-1 probes) into moto_server, then `terraform destroy`: every argument, reference and ARN the AWS provider
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
. infra/tf-mirror.sh
tmp=$(mktemp -d)
tf_mirror "$tmp" || { rm -rf "$tmp"; echo "tf-apply-moto: skipped" >&2; exit 0; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# AWS's managed policies (AWSLambdaVPCAccessExecutionRole, for the private location) exist.
MOTO_IAM_LOAD_MANAGED_POLICIES=true "$moto" -H 127.0.0.1 -p "$port" > "$tmp/moto.log" 2>&1 &
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
    ec2            = "$endpoint"
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
# A private location beside the public eu-west-1 probe region: the probe stack in a VPC, named.
cat > "$example/private_location.tf" <<'EOT'
resource "aws_vpc" "private" {
  provider   = aws.home
  cidr_block = "10.20.0.0/16"
}

resource "aws_subnet" "private" {
  provider   = aws.home
  vpc_id     = aws_vpc.private.id
  cidr_block = "10.20.1.0/24"
}

resource "aws_security_group" "probe" {
  provider = aws.home
  vpc_id   = aws_vpc.private.id
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

module "probe_vpc_prod" {
  source             = "../../modules/probe-region"
  providers          = { aws = aws.home }
  home_region        = module.home.home_region
  operator_emails    = var.operator_emails
  probe_package      = "${local.dist}/atalaya-probe.zip"
  location           = "vpc-prod"
  subnet_ids         = [aws_subnet.private.id]
  security_group_ids = [aws_security_group.probe.id]
}
EOT
cat > "$example/terraform.tfvars" <<EOT
operator_emails        = ["oncall@example.com"]
customer_subscriptions = [{ email = "it@acme.example", customer = "acme", services = [] }]
EOT
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
echo "tf-apply-moto: terraform apply created $created resources in moto (three regions and a private location in a VPC; without CloudFront and customer mail, which moto cannot take) and destroy removed them all"
