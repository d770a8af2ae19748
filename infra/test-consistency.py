#!/usr/bin/env python3
"""Proves that infra/check-consistency.py catches drift: each case below changes one thing in a
copy of the repository (as a careless edit would) and the check must fail, saying so. The copy
as it is must pass. Run by `make validate-infra`."""
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHECK = ROOT / "infra/check-consistency.py"
COPIED = ["infra", "shared/store/src/dynamodb", "shared/notify/src/status_site", "shared/aws/src", "shared/app/src", "functions/alert/src", "functions/probe/src", "functions/mailer/src", "functions/pages/src", "functions/rollup/src", "functions/ping/src", "shared/core/src/kinds/heartbeat", "shared/core/src/cost.rs", "shared/core/src/secrets.rs", "Makefile"]

HOME, PROBE = "infra/sam/home.yaml", "infra/sam/probe-region.yaml"
TF, TF_ALARMS = "infra/terraform/main.tf", "infra/terraform/alarms.tf"
TF_PROBE = "infra/terraform/modules/probe-region/main.tf"
TF_MAIL = "infra/terraform/mail.tf"

# (what, file, text, replacement, what the check must say)
DRIFTS = [
    ("the probe's table prefix dropped (variable)", PROBE,
     "          ATALAYA_TABLE_PREFIX: !Ref Prefix\n", "", "ATALAYA_TABLE_PREFIX"),
    ("the probe's table prefix dropped (IAM)", PROBE,
     "table/${Prefix}results", "table/results", "dynamodb:BatchWriteItem on table:results, which it needs"),
    ("a wrong table ARN in IAM", HOME,
     "Action: [dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:DeleteItem]\n                Resource: !GetAtt StateTable.Arn",
     "Action: [dynamodb:GetItem, dynamodb:BatchGetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:DeleteItem]\n                Resource: !GetAtt IncidentsTable.Arn",
     "dynamodb:GetItem on table:incidents, which it should not"),
    ("the ping judge may write another region's results", HOME,
     "                  ForAllValues:StringEquals:\n                    dynamodb:LeadingKeys: [heartbeats]\n              # Reads every ping log",
     "                  ForAllValues:StringEquals:\n                    dynamodb:LeadingKeys: [eu-west-1]\n              # Reads every ping log",
     "the ping-judge function's role must limit its results writes to the region heartbeats"),
    ("the ping endpoint may touch the engine's state", "infra/terraform/ping.tf",
     '"dynamodb:LeadingKeys" = ["heartbeat#*"] } }\n      },\n      {\n        Sid       = "EndpointMark", Effect = "Allow", Action = ["dynamodb:GetItem"]',
     '"dynamodb:LeadingKeys" = ["engine#*"] } }\n      },\n      {\n        Sid       = "EndpointMark", Effect = "Allow", Action = ["dynamodb:GetItem"]',
     "the ping function's role must limit its state access to the heartbeat items"),
    ("a judge's schedule without its marker", "infra/terraform/ping.tf",
     "input    = jsonencode({ judge = true })", "input    = jsonencode({})", "the judge's payload has"),
    ("an alarm on a metric nobody emits", HOME,
     "MetricName: PublishFailures", "MetricName: PublishFailure", "watches PublishFailure by Function, which no function emits"),
    ("a wrong index ARN", HOME,
     "${OutboxTable.Arn}/index/pending", "${OutboxTable.Arn}/index/pendings", "dynamodb:Query on index:outbox/pendings"),
    ("the outbox variable pointing at the incidents table", HOME,
     "ATALAYA_OUTBOX_TABLE: !Ref OutboxTable", "ATALAYA_OUTBOX_TABLE: !Ref IncidentsTable",
     "ATALAYA_OUTBOX_TABLE names table:incidents, not table:outbox"),
    ("key types switched to N", HOME,
     "- { AttributeName: pk, AttributeType: S }", "- { AttributeName: pk, AttributeType: N }", "key pk is of type N"),
    ("an unparseable schedule payload", HOME,
     """Input: '{"tick": true}'""", """Input: '{"tick": true'""", "is not JSON"),
    ("a probe schedule payload the function does not take", TF_PROBE,
     "shard = count.index,", "shard_index = count.index,", "the probe schedule's payload has"),
    ("Terraform missing the customers topic ARN", TF,
     "      ATALAYA_CUSTOMERS_TOPIC_ARN = aws_sns_topic.customers.arn\n", "",
     "requires ATALAYA_CUSTOMERS_TOPIC_ARN, which the stack does not set"),
    ("a wildcard action written bare", HOME,
     "Action: sqs:SendMessage", "Action: sqs:*", "wildcard action sqs:*"),
    ("a wildcard action in a flow list", HOME,
     "Action: [kms:GenerateDataKey, kms:Decrypt]", "Action: [kms:*]", "wildcard action kms:*"),
    ("a wildcard action in Terraform", TF,
     '"sqs:SendMessage"', '"sqs:*"', "wildcard action sqs:*"),
    ("a checkov skip without its reason", TF_PROBE,
     "#checkov:skip=CKV_AWS_297:", "#checkov:skip=CKV_AWS_297 ", "CKV_AWS_297 skipped without a reason"),
    ("an alarm only on one side", TF_ALARMS,
     '"alert-publish-failures"', '"alert-publish-failure"', "alarms differ"),
    ("the probe reading another object than the published checks file", PROBE,
     "${HomeRegion}/checks.tar.gz", "${HomeRegion}/checks.tgz", "s3:GetObject on object:checks, which it needs"),
    ("the rollup job allowed the whole state table in Terraform", "infra/terraform/rollup.tf",
     '\n        Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["rollup#*", "rollups-done#*"] } }', "",
     "limit its state access to the rollup items"),
    ("the rollup job allowed to delete state items in SAM", HOME,
     "Action: [dynamodb:BatchGetItem, dynamodb:PutItem]\n                Resource: !GetAtt StateTable.Arn\n                Condition:",
     "Action: [dynamodb:BatchGetItem, dynamodb:PutItem, dynamodb:DeleteItem]\n                Resource: !GetAtt StateTable.Arn\n                Condition:",
     "the rollup function's role allows dynamodb:DeleteItem on table:state, which it should not"),
    ("Terraform's probe not told where the checks file is", TF_PROBE,
     "      ATALAYA_CHECKS_BUCKET    = local.checks_bucket\n", "", "the probe function's variables differ"),
    ("the mailer may send from any identity", HOME,
     "identity/${MailDomain}", "identity/*", "ses:SendEmail on identity:mail, which it needs"),
    ("Terraform's mailer subscribers variable naming the outbox", TF_MAIL,
     "ATALAYA_SUBSCRIBERS_TABLE     = aws_dynamodb_table.subscribers.name",
     "ATALAYA_SUBSCRIBERS_TABLE     = aws_dynamodb_table.outbox.name",
     "ATALAYA_SUBSCRIBERS_TABLE names table:outbox, not table:subscribers"),
    ("the pages may write the outbox", HOME,
     "Action: [dynamodb:GetItem, dynamodb:PutItem]\n                Resource: !GetAtt SubscribersTable.Arn",
     "Action: [dynamodb:GetItem, dynamodb:PutItem]\n                Resource: !GetAtt OutboxTable.Arn",
     "the pages function's role allows dynamodb:GetItem on table:outbox"),
    ("the probe may write another region's results", PROBE,
     "dynamodb:LeadingKeys: [!If [IsPrivate, !Ref Location, !Ref AWS::Region]]", "dynamodb:LeadingKeys: [!If [IsPrivate, !Ref Location, !Ref HomeRegion]]", "dynamodb:LeadingKeys"),
    ("the probe may write any region's results", PROBE,
     "dynamodb:LeadingKeys", "dynamodb:Attributes", "dynamodb:LeadingKeys"),
    ("the alert function may write anywhere in the site bucket", HOME,
     "Action: [s3:PutObject, s3:DeleteObject]\n                Resource: !Sub ${SiteBucket.Arn}/site/*",
     "Action: [s3:PutObject, s3:DeleteObject]\n                Resource: !Sub ${SiteBucket.Arn}/*",
     "s3:PutObject on ?object /*, which it should not"),
    ("the ping endpoint's stage without its throttle", HOME,
     "        ThrottlingRateLimit: !Ref PingRateLimit\n", "",
     "PingApi (before PingFunction) has no stage that throttles"),
    ("a function URL back on the pages", HOME,
     "      ReservedConcurrentExecutions: !If [HasPublicConcurrency, !Ref PublicConcurrency, !Ref AWS::NoValue]\n      Environment:\n        Variables:\n          ATALAYA_CHECKS: checks.yaml\n          ATALAYA_SUBSCRIBERS_TABLE",
     "      ReservedConcurrentExecutions: !If [HasPublicConcurrency, !Ref PublicConcurrency, !Ref AWS::NoValue]\n      FunctionUrlConfig:\n        AuthType: NONE\n      Environment:\n        Variables:\n          ATALAYA_CHECKS: checks.yaml\n          ATALAYA_SUBSCRIBERS_TABLE",
     "PagesFunction has a function URL, which no throttle bounds"),
    ("Terraform's endpoints without a throttle", "infra/terraform/modules/public-endpoint/main.tf",
     "    throttling_rate_limit  = var.rate_limit\n", "",
     "the stage does not throttle with rate_limit and burst_limit"),
    ("Terraform's pages invoked by anyone", "infra/terraform/modules/public-endpoint/main.tf",
     'principal     = "apigateway.amazonaws.com"', 'principal     = "*"',
     "the function may be invoked by something else than its API"),
    ("the ping endpoint's 5xx alarm only in SAM", "infra/terraform/ping.tf",
     '"${var.prefix}ping-5xx"', '"${var.prefix}ping-5xxs"', "alarms differ"),
    ("the pages' alarm on an API the stack does not create", HOME,
     "Dimensions: [{ Name: ApiId, Value: !Ref PagesApi }",
     "Dimensions: [{ Name: ApiId, Value: !Ref PagesApis }",
     "is not on an HTTP API this stack creates"),
    ("an alarm added without the estimate's floor knowing", "shared/core/src/cost.rs",
     "const HOME_ALARMS: u32 = 23;", "const HOME_ALARMS: u32 = 22;", "HOME_ALARMS is 22, but the stacks (SAM, and the metrics the code declares) have 23"),
    ("a custom metric nobody watches", "shared/aws/src/lib.rs",
     '    "ChannelFailures",\n', '    "ChannelFailures",\n    "ChecksRun",\n',
     "ChecksRun is a custom metric ($0.30 a month each) that no alarm watches"),
    ("the estimate's floor counting metrics the code no longer declares", "shared/core/src/cost.rs",
     "const REGION_METRICS: u32 = 1 + 1;", "const REGION_METRICS: u32 = 6 + 1;", "REGION_METRICS is 7, but the stacks (SAM, and the metrics the code declares) have 2"),
    ("Terraform's site manifest where CloudFront serves it", "infra/terraform/main.tf",
     '"${aws_s3_bucket.site.arn}/state/site.json"', '"${aws_s3_bucket.site.arn}/site/site.json"',
     "s3:GetObject on object:site/manifest, which it needs"),
    ("a CloudFront resource left unconditional in SAM", HOME,
     "  SiteDistribution:\n    Condition: HasCdn\n", "  SiteDistribution:\n",
     "SiteDistribution is created without StatusSite=cloudfront"),
    ("a CloudFront resource left unconditional in Terraform", "infra/terraform/site.tf",
     'resource "aws_cloudfront_function" "site_index" {\n  count   = local.cdn ? 1 : 0\n',
     'resource "aws_cloudfront_function" "site_index" {\n',
     "aws_cloudfront_function.site_index is created without"),
    ("the probe may read every secret under the prefix", PROBE,
     "secret:${SecretsPrefix}probe/*", "secret:${SecretsPrefix}*",
     "the probe function's role allows secretsmanager:GetSecretValue on secrets:home/prefix, which it should not"),
    ("Terraform's mailer reading the on-call tokens", TF_MAIL,
     "parameter/${var.secrets_prefix}mail/*", "parameter/${var.secrets_prefix}alert/*",
     "ssm:GetParameter on parameters:here/alert, which it should not"),
    ("a probe region's alarms topic renamed", PROBE,
     '!Sub "${Prefix}alarms-${AWS::Region}"]', '!Sub "${Prefix}alarm-${AWS::Region}"]',
     "the alarms topic is not named ${Prefix}alarms-${AWS::Region}"),
    ("a private location that may write as any region", PROBE,
     "dynamodb:LeadingKeys: [!If [IsPrivate, !Ref Location, !Ref AWS::Region]]", "dynamodb:LeadingKeys: [!If [IsPrivate, !Ref HomeRegion, !Ref AWS::Region]]",
     "dynamodb:LeadingKeys"),
]


def copy():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="atalaya-infra-"))
    for rel in COPIED:
        src, dst = ROOT / rel, tmp / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy(src, dst)
    return tmp


def run(root):
    env = dict(os.environ, ATALAYA_ROOT=str(root))
    return subprocess.run([sys.executable, str(CHECK)], env=env, capture_output=True, text=True)


def main():
    failures = []
    base = copy()
    clean = run(base)
    if clean.returncode != 0:
        failures.append(f"the unchanged copy fails:\n{clean.stderr}")
    shutil.rmtree(base)
    for what, rel, old, new, said in DRIFTS:
        root = copy()
        path = root / rel
        text = path.read_text()
        if old not in text:
            failures.append(f"{what}: {rel} no longer contains {old!r}; update this case")
            shutil.rmtree(root)
            continue
        path.write_text(text.replace(old, new, 1))
        out = run(root)
        shutil.rmtree(root)
        if out.returncode == 0:
            failures.append(f"{what}: not caught")
        elif said not in out.stderr:
            failures.append(f"{what}: caught, but without saying {said!r}:\n{out.stderr}")
        else:
            print(f"caught: {what}")
    for f in failures:
        print(f"infra/test-consistency.py: {f}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print(f"infra/test-consistency.py: all {len(DRIFTS)} drifts caught")


if __name__ == "__main__":
    main()
