#!/usr/bin/env python3
"""The SAM templates, the Terraform and the Rust code must describe the same deployment. Checks,
offline, both ways where there are two sides:

  tables       SAM and Terraform create the same tables (name, keys and their types, stream,
               TTL attribute, indexes), and they are the tables the store's code creates;
  environment  each function gets the same variables from SAM and from Terraform, every one of
               them is read by the code, every variable the code requires is set, and each
               names the right thing (ATALAYA_OUTBOX_TABLE the outbox table, ...);
  IAM          each function's role allows exactly the actions on exactly the resources in
               ACCESS below (no table, index or topic swapped, no prefix dropped), in both;
  alarms       every alarm on a metric of Atalaya's own is on a metric (and dimension) the code
               emits; every alarm on a Lambda or SQS metric is on this stack's function or queue;
  schedules    every schedule's payload is JSON the function it invokes accepts;
  wildcards    no action with a wildcard in any policy (IAM or key policy), however written;
  checkov      every skipped check sits on its resource with a reason (none skipped globally).

Run by `make validate-infra` with the virtualenv's Python (cfn-lint and python-hcl2 inside);
infra/test-consistency.py proves that each kind of drift is caught. ATALAYA_ROOT points it at
another copy of the repository."""
import json
import os
import pathlib
import re
import sys

import hcl2
from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(os.environ.get("ATALAYA_ROOT") or pathlib.Path(__file__).resolve().parent.parent)
problems = []


def problem(text):
    problems.append(text)


# What each function may do, on what (canonical names: table:<name>, index:<table>/<index>,
# stream:<table>, streams:<table>, topic:<name>, queue:<name>, key, logs).
ACCESS = {
    "alert": {
        ("logs:CreateLogStream", "logs"),
        ("logs:PutLogEvents", "logs"),
        ("dynamodb:DescribeStream", "stream:results"),
        ("dynamodb:GetRecords", "stream:results"),
        ("dynamodb:GetShardIterator", "stream:results"),
        ("dynamodb:ListStreams", "streams:results"),
        ("dynamodb:GetItem", "table:state"),
        ("dynamodb:BatchGetItem", "table:state"),
        ("dynamodb:PutItem", "table:state"),
        ("dynamodb:UpdateItem", "table:state"),
        ("dynamodb:DeleteItem", "table:state"),
        ("dynamodb:PutItem", "table:incidents"),
        ("dynamodb:Scan", "table:incidents"),
        ("dynamodb:GetItem", "table:outbox"),
        ("dynamodb:PutItem", "table:outbox"),
        ("dynamodb:UpdateItem", "table:outbox"),
        ("dynamodb:BatchGetItem", "table:outbox"),
        ("ssm:GetParameter", "parameters:here/alert"),
        ("secretsmanager:GetSecretValue", "secrets:here/alert"),
        # The link key signs acknowledgement links.
        ("ssm:GetParameter", "parameters:here/mail"),
        ("secretsmanager:GetSecretValue", "secrets:here/mail"),
        ("s3:PutObject", "objects:site/pages"),
        ("s3:DeleteObject", "objects:site/pages"),
        ("s3:GetObject", "object:site/manifest"),
        ("s3:PutObject", "object:site/manifest"),
        ("s3:ListBucket", "bucket:site"),
        ("dynamodb:Query", "index:outbox/pending"),
        ("sns:Publish", "topic:operators"),
        ("sns:Publish", "topic:customers"),
        ("sns:ListSubscriptionsByTopic", "topic:operators"),
        ("sns:ListSubscriptionsByTopic", "topics:probe-alarms"),
        ("kms:GenerateDataKey", "key"),
        ("kms:Decrypt", "key"),
        ("sqs:SendMessage", "queue:alert-dlq"),
        ("s3:GetObject", "object:checks"),
        ("s3:GetObjectVersion", "object:checks"),
        ("s3:ListBucket", "bucket:checks"),
    },
    "mailer": {
        ("logs:CreateLogStream", "logs"),
        ("logs:PutLogEvents", "logs"),
        ("dynamodb:BatchGetItem", "table:outbox"),
        ("dynamodb:GetItem", "table:subscribers"),
        ("dynamodb:PutItem", "table:subscribers"),
        ("dynamodb:UpdateItem", "table:subscribers"),
        ("dynamodb:DeleteItem", "table:subscribers"),
        ("dynamodb:Query", "index:subscribers/by_customer"),
        ("ses:SendEmail", "identity:mail"),
        ("ses:SendRawEmail", "identity:mail"),
        ("ses:SendEmail", "configuration-set:mail"),
        ("ses:SendRawEmail", "configuration-set:mail"),
        ("ssm:GetParameter", "parameters:here/mail"),
        ("secretsmanager:GetSecretValue", "secrets:here/mail"),
        ("sqs:SendMessage", "queue:mailer-dlq"),
        ("kms:GenerateDataKey", "key"),
        ("kms:Decrypt", "key"),
        ("s3:GetObject", "object:checks"),
        ("s3:GetObjectVersion", "object:checks"),
        ("s3:ListBucket", "bucket:checks"),
    },
    "pages": {
        ("logs:CreateLogStream", "logs"),
        ("logs:PutLogEvents", "logs"),
        ("dynamodb:GetItem", "table:subscribers"),
        ("dynamodb:PutItem", "table:subscribers"),
        ("dynamodb:BatchGetItem", "table:state"),
        ("dynamodb:PutItem", "table:state"),
        ("dynamodb:GetItem", "table:incidents"),
        ("dynamodb:PutItem", "table:incidents"),
        ("dynamodb:PutItem", "table:outbox"),
        # The status pages' subscribe form: its confirmation mail.
        ("ses:SendEmail", "identity:mail"),
        ("ses:SendRawEmail", "identity:mail"),
        ("ses:SendEmail", "configuration-set:mail"),
        ("ses:SendRawEmail", "configuration-set:mail"),
        ("ssm:GetParameter", "parameters:here/mail"),
        ("secretsmanager:GetSecretValue", "secrets:here/mail"),
        ("s3:GetObject", "object:checks"),
        ("s3:GetObjectVersion", "object:checks"),
        ("s3:ListBucket", "bucket:checks"),
    },
    "rollup": {
        ("logs:CreateLogStream", "logs"),
        ("logs:PutLogEvents", "logs"),
        ("dynamodb:Query", "table:results"),
        ("dynamodb:BatchGetItem", "table:state"),
        ("dynamodb:PutItem", "table:state"),
        ("s3:GetObject", "object:checks"),
        ("s3:GetObjectVersion", "object:checks"),
        ("s3:ListBucket", "bucket:checks"),
    },
    "ping": {
        ("logs:CreateLogStream", "logs"),
        ("logs:PutLogEvents", "logs"),
        ("dynamodb:BatchWriteItem", "table:results"),
        ("dynamodb:GetItem", "table:state"),
        ("dynamodb:PutItem", "table:state"),
        ("ssm:GetParameter", "parameters:here/heartbeat"),
        ("secretsmanager:GetSecretValue", "secrets:here/heartbeat"),
        ("s3:GetObject", "object:checks"),
        ("s3:GetObjectVersion", "object:checks"),
        ("s3:ListBucket", "bucket:checks"),
    },
    "ping-judge": {
        ("logs:CreateLogStream", "logs"),
        ("logs:PutLogEvents", "logs"),
        ("dynamodb:BatchWriteItem", "table:results"),
        ("dynamodb:BatchGetItem", "table:state"),
        ("dynamodb:GetItem", "table:state"),
        ("dynamodb:PutItem", "table:state"),
        ("ssm:GetParameter", "parameters:here/heartbeat"),
        ("secretsmanager:GetSecretValue", "secrets:here/heartbeat"),
        ("s3:GetObject", "object:checks"),
        ("s3:GetObjectVersion", "object:checks"),
        ("s3:ListBucket", "bucket:checks"),
    },
    "probe": {
        ("logs:CreateLogStream", "logs"),
        ("logs:PutLogEvents", "logs"),
        ("dynamodb:BatchWriteItem", "table:results"),
        ("ssm:GetParameter", "parameters:home/probe"),
        ("secretsmanager:GetSecretValue", "secrets:home/probe"),
        ("s3:GetObject", "object:checks"),
        ("s3:GetObjectVersion", "object:checks"),
        ("s3:ListBucket", "bucket:checks"),
    },
}
# What each variable must name.
ENV_TARGETS = {
    "ATALAYA_RESULTS_TABLE": "table:results",
    "ATALAYA_STATE_TABLE": "table:state",
    "ATALAYA_INCIDENTS_TABLE": "table:incidents",
    "ATALAYA_OUTBOX_TABLE": "table:outbox",
    "ATALAYA_SUBSCRIBERS_TABLE": "table:subscribers",
    "ATALAYA_SES_CONFIGURATION_SET": "configuration-set:mail",
    "ATALAYA_OPERATORS_TOPIC_ARN": "topic:operators",
    "ATALAYA_CUSTOMERS_TOPIC_ARN": "topic:customers",
    "ATALAYA_TABLE_PREFIX": "prefix",
    "ATALAYA_HOME_REGION": "home-region",
    "ATALAYA_CHECKS_BUCKET": "bucket:checks",
    "ATALAYA_SITE_BUCKET": "bucket:site",
}


def checks_key():
    """The object key the functions read the published checks file from (the code's default)."""
    return re.search(r'pub const DEFAULT_KEY: &str = "([^"]+)"', read("shared/aws/src/checks.rs")).group(1)


def site_keys():
    """Where the alert function writes the status site's pages and its manifest (the code's)."""
    src = read("shared/notify/src/status_site/s3.rs")
    prefix = re.search(r'pub const SITE_PREFIX: &str = "([^"]+)"', src).group(1)
    manifest = re.search(r'pub const MANIFEST: &str = "([^"]+)"', src).group(1)
    return prefix, manifest


def bucket_path(name, rest):
    """Bucket names (prefix-<name>-account-region) with an optional `/key`: the checks file in
    the checks bucket; the pages and the manifest in the site bucket."""
    if rest == "":
        return f"bucket:{name}"
    if name == "checks" and rest == "/" + checks_key():
        return f"object:{name}"
    pages, manifest = site_keys()
    if name == "site" and rest == f"/{pages}*":
        return "objects:site/pages"
    if name == "site" and rest == f"/{manifest}":
        return "object:site/manifest"
    return f"?object {rest}"



def read(rel):
    return (ROOT / rel).read_text()


def balanced(text, start, open_ch, close_ch):
    """The text from `start` (an opening bracket) to its matching closing bracket."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == open_ch:
            depth += 1
        elif text[i] == close_ch:
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return text[start:]


# --- The code --------------------------------------------------------------------------------


def store_code():
    files = sorted((ROOT / "shared/store/src/dynamodb").rglob("*.rs"))
    if not files:
        sys.exit("infra/check-consistency.py: no DynamoDB store code under shared/store/src/dynamodb/")
    return "\n".join(f.read_text() for f in files)


# Functions that share another's code (one artefact, two functions).
CODE_OF = {"ping-judge": "ping"}


def function_code(name):
    name = CODE_OF.get(name, name)
    return "\n".join(p.read_text() for p in sorted((ROOT / f"functions/{name}/src").rglob("*.rs")))


def code_tables():
    src = store_code()
    return {
        "names": set(re.findall(r'format!\("\{prefix\}(\w+)"\)', src)),
        "types": set(re.findall(r"ScalarAttributeType::(\w+)", src)),
        "ttl": re.findall(r'\.enable_ttl\(\s*&self\.tables\.\w+,\s*"(\w+)"', src),
        "index": re.findall(r'\.index_name\("(\w+)"\)', src),
        "stream": "StreamViewType::NewImage" in src,
    }


TYPE_LETTER = {"String": "S", "Number": "N", "Binary": "B", "S": "S", "N": "N", "B": "B"}


def declared_metrics():
    """The values atalaya_aws::emf makes custom metrics (METRICS); the rest are log fields."""
    text = read("shared/aws/src/lib.rs")
    block = text.split("pub const METRICS: &[&str] = &[", 1)[1].split("];", 1)[0]
    return set(re.findall(r'"(\w+)"', block))


def code_metrics(by_function=False):
    """(metric, dimension name) pairs the functions emit as EMF custom metrics (with the
    function's name first when `by_function`)."""
    out = set()
    declared = declared_metrics()
    for name in ("alert", "probe", "rollup", "ping"):
        src = function_code(name)
        for m in re.finditer(r"atalaya_aws::emf\(", src):
            call = balanced(src, m.end() - 1, "(", ")")
            dims = re.findall(r'\(\s*"(\w+)",\s*(?:"[^"]*"|&?[\w.]+)\s*\)', call.split("],", 1)[0])
            for metric in re.findall(r'\(\s*"(\w+)",\s*"(?:Count|Milliseconds|Bytes|Seconds)"', call):
                if metric not in declared:
                    continue
                for d in dims or [None]:
                    out.add((name, metric, d) if by_function else (metric, d))
    return out


def aws_code():
    return "\n".join(p.read_text() for p in sorted((ROOT / "shared/aws/src").rglob("*.rs")))


def code_env(name):
    # A function reads its own variables, the store's (table names), the AWS helpers' (the
    # published checks file) and, when it loads its checks file through it, FunctionChecks's.
    own = function_code(name)
    shared = [store_code(), aws_code()]
    if "FunctionChecks" in own:
        shared.append(read("shared/app/src/live.rs"))
    src = "\n".join([own] + shared)
    read_vars = set(re.findall(r'"(ATALAYA_\w+)"', src))
    required = set(re.findall(r'required\("(ATALAYA_\w+)"\)', src))
    return read_vars, required


def probe_event_fields():
    src = function_code("probe")
    body = re.search(r"pub struct ProbeEvent \{(.*?)\n\}", src, re.S).group(1)
    return set(re.findall(r"pub (\w+):", body))


# --- SAM -------------------------------------------------------------------------------------


def sam(name):
    return cfn_yaml.load(str(ROOT / f"infra/sam/{name}.yaml"))


def sam_resources(tpl):
    """Resources, with each Fn::ForEach body's resources under their template key."""
    out = {}
    for key, res in tpl["Resources"].items():
        if key.startswith("Fn::ForEach::"):
            for k, r in res[2].items():
                out[k] = r
        else:
            out[key] = res
    return out


def sam_canon(tpl, value):
    """A resource reference in a SAM template, as a canonical name."""
    res = sam_resources(tpl)

    def of_logical(lid, attr):
        r = res.get(lid)
        if r is None:
            return f"?{lid}"
        t, p = r.get("Type"), r.get("Properties", {})
        short = lambda v: (v.get("Fn::Sub", "") if isinstance(v, dict) else str(v)).replace("${Prefix}", "")  # noqa: E731
        if t == "AWS::DynamoDB::Table":
            n = short(p.get("TableName"))
            return f"stream:{n}" if attr == "StreamArn" else f"table:{n}"
        if t == "AWS::SNS::Topic":
            return f"topic:{short(p.get('TopicName'))}"
        if t == "AWS::SQS::Queue":
            return f"queue:{short(p.get('QueueName'))}"
        if t == "AWS::S3::Bucket":
            n = short(p.get("BucketName"))
            return "bucket:" + n.split("-${", 1)[0]
        if t == "AWS::KMS::Key":
            return "key"
        if t == "AWS::Logs::LogGroup":
            return "logs"
        if t in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return f"function:{lid}"
        if t == "AWS::SES::ConfigurationSet":
            return f"configuration-set:{short(p.get('Name'))}"
        return f"?{lid}"

    if isinstance(value, list):
        return [c for v in value for c in (sam_canon(tpl, v) if isinstance(sam_canon(tpl, v), list) else [sam_canon(tpl, v)])]
    if isinstance(value, dict):
        if "Ref" in value:
            ref = value["Ref"]
            if ref == "Prefix":
                return "prefix"
            if ref == "HomeRegion":
                return "home-region"
            if ref in tpl.get("Parameters", {}):
                return f"param:{ref}"
            return of_logical(ref, None)
        if "Fn::GetAtt" in value:
            ga = value["Fn::GetAtt"]
            lid, attr = (ga if isinstance(ga, list) else str(ga).split(".", 1))
            return of_logical(lid, attr)
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            m = re.fullmatch(r"\$\{(\w+)\.Arn\}(.*)", text)
            if m:
                base = of_logical(m.group(1), "Arn")
                rest = m.group(2)
                if rest.startswith("/index/"):
                    return f"index:{base.split(':', 1)[1]}/{rest[len('/index/'):]}"
                if rest == "/stream/*":
                    return f"streams:{base.split(':', 1)[1]}"
                if rest == ":*":
                    return base
                if base.startswith("bucket:"):
                    return bucket_path(base.split(":", 1)[1], rest)
                return f"?{text}"
            m = re.fullmatch(r"arn:\$\{AWS::Partition\}:dynamodb:\$\{HomeRegion\}:\$\{AWS::AccountId\}:table/\$\{Prefix\}(\w+)", text)
            if m:
                return f"table:{m.group(1)}"
            m = re.fullmatch(r"(?:arn:\$\{AWS::Partition\}:s3:::)?\$\{Prefix\}(\w+)-\$\{AWS::AccountId\}-\$\{HomeRegion\}(/.*)?", text)
            if m:
                return bucket_path(m.group(1), m.group(2) or "")
            m = re.fullmatch(r"arn:\$\{AWS::Partition\}:(ssm|secretsmanager):\$\{(HomeRegion|AWS::Region)\}:\$\{AWS::AccountId\}:(?:parameter/|secret:)\$\{SecretsPrefix\}(?:(\w+)/)?\*", text)
            if m:
                return secrets_canon(m.group(1), "home" if m.group(2) == "HomeRegion" else "here", m.group(3))
            if text == "arn:${AWS::Partition}:sns:*:${AWS::AccountId}:${Prefix}alarms-*":
                return "topics:probe-alarms"
            if text == "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${MailDomain}":
                return "identity:mail"
            m = re.fullmatch(r"arn:\$\{AWS::Partition\}:ses:\$\{AWS::Region\}:\$\{AWS::AccountId\}:configuration-set/\$\{Prefix\}(\w+)", text)
            if m:
                return f"configuration-set:{m.group(1)}"
            return f"?{text}"
    return f"literal:{value}"


def sam_functions():
    """name -> (template, logical id, function properties, role properties)."""
    out = {}
    for tname, lid, fname in (
        ("home", "AlertFunction", "alert"),
        ("home", "MailerFunction", "mailer"),
        ("home", "PagesFunction", "pages"),
        ("home", "RollupFunction", "rollup"),
        ("home", "PingFunction", "ping"),
        ("home", "PingJudgeFunction", "ping-judge"),
        ("probe-region", "ProbeFunction", "probe"),
    ):
        tpl = sam(tname)
        f = sam_resources(tpl)[lid]
        role_ref = f["Properties"]["Role"]
        role_lid = role_ref["Fn::GetAtt"][0] if isinstance(role_ref["Fn::GetAtt"], list) else role_ref["Fn::GetAtt"].split(".")[0]
        out[fname] = (tpl, lid, f["Properties"], sam_resources(tpl)[role_lid]["Properties"])
    return out


def sam_tables():
    tpl = sam("home")
    out = {}
    for res in sam_resources(tpl).values():
        if not isinstance(res, dict) or res.get("Type") != "AWS::DynamoDB::Table":
            continue
        p = res["Properties"]
        name = p["TableName"]["Fn::Sub"].replace("${Prefix}", "")
        types = {a["AttributeName"]: TYPE_LETTER.get(a["AttributeType"], a["AttributeType"]) for a in p["AttributeDefinitions"]}
        out[name] = {
            "keys": tuple((k["AttributeName"], types.get(k["AttributeName"])) for k in p["KeySchema"]),
            "stream": p.get("StreamSpecification", {}).get("StreamViewType"),
            "ttl": p.get("TimeToLiveSpecification", {}).get("AttributeName"),
            "indexes": {
                g["IndexName"]: tuple((k["AttributeName"], types.get(k["AttributeName"])) for k in g["KeySchema"])
                for g in p.get("GlobalSecondaryIndexes", [])
            },
        }
    return out


def sam_access(tpl, role):
    pairs = set()
    for pol in role.get("Policies", []):
        for st in pol["PolicyDocument"]["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            resources = sam_canon(tpl, st["Resource"])
            for a in actions:
                for r in resources if isinstance(resources, list) else [resources]:
                    pairs.add((str(a), r))
    return pairs


# --- Terraform -------------------------------------------------------------------------------

TF_FILES = {
    "alert": ["infra/terraform/main.tf", "infra/terraform/alarms.tf"],
    "mailer": ["infra/terraform/mail.tf"],
    "pages": ["infra/terraform/mail.tf"],
    "rollup": ["infra/terraform/rollup.tf"],
    "ping": ["infra/terraform/ping.tf"],
    "ping-judge": ["infra/terraform/ping.tf"],
    "probe": ["infra/terraform/modules/probe-region/main.tf"],
}


def secrets_folders():
    """The folders of the secrets prefix each reader may read (shared/core/src/secrets.rs)."""
    text = read("shared/core/src/secrets.rs")
    return set(re.findall(r'Reader::\w+ => "(\w+)",\n', text.split("fn folder")[1].split("fn functions")[0]))


def secrets_canon(service, where, folder):
    """SSM parameters or secrets under the prefix: the whole prefix, or one reader's folder,
    which must be one the code knows."""
    kind = "parameters" if service == "ssm" else "secrets"
    if folder is None:
        return f"{kind}:{where}/prefix"
    if folder not in secrets_folders():
        return f"?{kind}:{where}/{folder} (no reader has this folder in shared/core/src/secrets.rs)"
    return f"{kind}:{where}/{folder}"


def one(v):
    """python-hcl2 0.4 wraps each attribute value in a list."""
    return v[0] if isinstance(v, list) and len(v) == 1 else v


def tf_blocks(text, kind):
    """(label, body text) of each `resource "<kind>" "<label>" { ... }`."""
    for m in re.finditer(r'resource "%s" "(\w+)" \{' % kind, text):
        yield m.group(1), balanced(text, m.end() - 1, "{", "}")


def tf_canon(expr):
    expr = expr.strip().strip('"')
    # A resource made only with mail_domain (count = 1) is the same resource.
    expr = expr.replace("[0]", "")
    m = re.fullmatch(r"\$\{local\.arn\}:(ssm|secretsmanager):\$\{(var\.home_region|local\.region)\}:\$\{local\.account\}:(?:parameter/|secret:)\$\{var\.secrets_prefix\}(?:(\w+)/)?\*", expr)
    if m:
        return secrets_canon(m.group(1), "home" if m.group(2) == "var.home_region" else "here", m.group(3))
    if expr == "${local.arn}:sns:*:${local.account}:${var.prefix}alarms-*":
        return "topics:probe-alarms"
    if expr == "${local.arn}:ses:${local.region}:${local.account}:identity/${var.mail_domain}":
        return "identity:mail"
    m = re.fullmatch(r"\$\{local\.arn\}:ses:\$\{local\.region\}:\$\{local\.account\}:configuration-set/\$\{var\.prefix\}(\w+)", expr)
    if m:
        return f"configuration-set:{m.group(1)}"
    m = re.fullmatch(r"aws_sesv2_configuration_set\.(\w+)\.configuration_set_name", expr)
    if m:
        return f"configuration-set:{m.group(1)}"
    m = re.fullmatch(r"\$\{aws_dynamodb_table\.(\w+)\.arn\}/index/(\w+)", expr)
    if m:
        return f"index:{m.group(1)}/{m.group(2)}"
    m = re.fullmatch(r"\$\{aws_dynamodb_table\.(\w+)\.arn\}/stream/\*", expr)
    if m:
        return f"streams:{m.group(1)}"
    m = re.fullmatch(r"aws_dynamodb_table\.(\w+)\.(arn|name|stream_arn)", expr)
    if m:
        return f"{'stream' if m.group(2) == 'stream_arn' else 'table'}:{m.group(1)}"
    m = re.fullmatch(r"aws_sns_topic\.(\w+)\.arn", expr)
    if m:
        return f"topic:{m.group(1)}"
    m = re.fullmatch(r"aws_sqs_queue\.(\w+)\.arn", expr)
    if m:
        return "queue:" + m.group(1).replace("_", "-")
    m = re.fullmatch(r"\$\{aws_s3_bucket\.(\w+)\.arn\}(/.*)?", expr) or re.fullmatch(r"aws_s3_bucket\.(\w+)\.(?:arn|id|bucket)()", expr)
    if m:
        return bucket_path(m.group(1), m.group(2) or "")
    m = re.fullmatch(r"\$\{local\.arn\}:s3:::\$\{local\.(\w+)_bucket\}(/.*)?", expr) or re.fullmatch(r"local\.(\w+)_bucket()", expr)
    if m:
        return bucket_path(m.group(1), m.group(2) or "")
    if re.fullmatch(r"module\.\w+_key\.arn", expr):
        return "key"
    if re.fullmatch(r"\$\{aws_cloudwatch_log_group\.\w+\.arn\}:\*", expr):
        return "logs"
    m = re.fullmatch(r"\$\{local\.table\}/\$\{var\.prefix\}(\w+)", expr)
    if m:
        return f"table:{m.group(1)}"
    if expr == "var.prefix":
        return "prefix"
    if expr == "var.home_region":
        return "home-region"
    return f"?{expr}"


def tf_list(expr):
    expr = expr.strip()
    if expr.startswith("["):
        return [e for e in re.findall(r'"[^"]*"|[\w.${}/*-]+', expr[1:-1])]
    return [expr]


def tf_access(fname):
    pairs = set()
    for rel in TF_FILES[fname]:
        text = read(rel)
        for label, body in tf_blocks(text, "aws_iam_role_policy"):
            if label != fname.replace("-", "_"):
                continue
            for sm in re.finditer(r"Sid\s*=", body):
                start = body.rfind("{", 0, sm.start())
                st = balanced(body, start, "{", "}")
                actions = re.search(r"Action\s*=\s*(\[[^\]]*\]|\"[^\"]*\")", st).group(1)
                resource = re.search(r"Resource\s*=\s*(\[[^\]]*\]|\"[^\"]*\"|[\w.]+(?:\[0\][\w.]*)?)", st).group(1)
                for a in tf_list(actions):
                    for r in tf_list(resource):
                        pairs.add((a.strip('"'), tf_canon(r)))
    return pairs


def tf_env(fname):
    out = {}
    for rel in TF_FILES[fname]:
        for label, body in tf_blocks(read(rel), "aws_lambda_function"):
            if label != fname.replace("-", "_"):
                continue
            env = re.search(r"variables = \{(.*?)\n\s*\}", body, re.S)
            for k, v in re.findall(r"(ATALAYA_\w+)\s*=\s*(.+)", env.group(1) if env else ""):
                out[k] = tf_canon(v) if not v.strip().startswith('"') else f"literal:{v.strip().strip(chr(34))}"
    return out


def tf_tables():
    with open(ROOT / "infra/terraform/main.tf") as f:
        tf = hcl2.load(f)
    out = {}
    for block in tf.get("resource", []):
        for _, t in block.get("aws_dynamodb_table", {}).items():
            name = re.sub(r"^\$\{local\.tables\.(\w+)\}$", r"\1", one(t["name"]))
            types = {one(a["name"]): one(a["type"]) for a in t.get("attribute", [])}
            key = lambda *ks: tuple((one(k), types.get(one(k))) for k in ks if k)  # noqa: E731
            ttl = one(t["ttl"]).get("attribute_name") if "ttl" in t else None
            out[name] = {
                "keys": key(t.get("hash_key"), t.get("range_key")),
                "stream": one(t["stream_view_type"]) if "stream_view_type" in t else None,
                "ttl": one(ttl),
                "indexes": {one(g["name"]): key(g.get("hash_key"), g.get("range_key")) for g in t.get("global_secondary_index", [])},
            }
    return out


# --- Checks ----------------------------------------------------------------------------------


def check_tables():
    s, t, code = sam_tables(), tf_tables(), code_tables()
    if s != t:
        problem(f"SAM and Terraform tables differ:\n  SAM: {s}\n  Terraform: {t}")
    if set(s) != code["names"]:
        problem(f"tables in the templates {sorted(s)} are not the code's {sorted(code['names'])}")
    for side, tables in (("SAM", s), ("Terraform", t)):
        for name, d in tables.items():
            for attr, kind in list(d["keys"]) + [k for ks in d["indexes"].values() for k in ks]:
                if kind not in code["types"]:
                    problem(f"{side}: table {name}'s key {attr} is of type {kind}; the code writes {sorted(code['types'])}")
        if tables.get("results", {}).get("ttl") not in (code["ttl"] or []):
            problem(f"{side}: the results' TTL attribute {tables.get('results', {}).get('ttl')} is not the code's {code['ttl']}")
        if tables.get("results", {}).get("stream") != "NEW_IMAGE" or not code["stream"]:
            problem(f"{side}: the results table must stream NEW_IMAGE, as the code creates it")
        for index in code["index"]:
            if not any(index in d["indexes"] for d in tables.values()):
                problem(f"{side}: the code queries index {index}, which no table has")
        for name, d in tables.items():
            if d["ttl"] and d["ttl"] not in code["ttl"]:
                problem(f"{side}: table {name} expires items by {d['ttl']}, which the code does not write")


# The region a probe stack writes as: its location's name, or its AWS region.
WHERE = {"Fn::If": ["IsPrivate", {"Ref": "Location"}, {"Ref": "AWS::Region"}]}


def public_branch(v):
    """A name written `!If [IsPrivate, <private>, <public>]`: the public one (the checks below
    compare the public names; the private ones differ only by the location)."""
    if isinstance(v, dict) and "Fn::If" in v and v["Fn::If"][0] == "IsPrivate":
        return v["Fn::If"][2]
    return v


def check_environment_and_iam():
    fns = sam_functions()
    for fname, (tpl, lid, props, role) in fns.items():
        read_vars, required = code_env(fname)
        sam_env = {k: sam_canon(tpl, v) for k, v in props["Environment"]["Variables"].items()}
        tf = tf_env(fname)
        for side, env in (("SAM", sam_env), ("Terraform", tf)):
            for var in sorted(set(env) - read_vars):
                problem(f"{side}: the {fname} function gets {var}, which its code never reads")
            for var in sorted(required - set(env)):
                problem(f"{side}: the {fname} function's code requires {var}, which the stack does not set")
            for var, target in env.items():
                if var in ENV_TARGETS and target != ENV_TARGETS[var]:
                    problem(f"{side}: the {fname} function's {var} names {target}, not {ENV_TARGETS[var]}")
        if set(sam_env) != set(tf):
            problem(f"the {fname} function's variables differ: SAM sets {sorted(set(sam_env) - set(tf))} that Terraform does not, Terraform {sorted(set(tf) - set(sam_env))} that SAM does not")
        for side, got in (("SAM", sam_access(tpl, role)), ("Terraform", tf_access(fname))):
            for a, r in sorted(got - ACCESS[fname]):
                problem(f"{side}: the {fname} function's role allows {a} on {r}, which it should not")
            for a, r in sorted(ACCESS[fname] - got):
                problem(f"{side}: the {fname} function's role does not allow {a} on {r}, which it needs")
        # The probe writes only its own region's results.
        if fname == "probe":
            writes = [
                st
                for pol in role.get("Policies", [])
                for st in pol["PolicyDocument"]["Statement"]
                if "dynamodb:BatchWriteItem" in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
            ]
            own = [
                st
                for st in writes
                if st.get("Condition", {}).get("ForAllValues:StringEquals", {}).get("dynamodb:LeadingKeys") in ([WHERE], WHERE)
            ]
            tf_text = read(TF_FILES["probe"][0])
            if not writes or len(own) != len(writes) or not re.search(r'"dynamodb:LeadingKeys"\s*=\s*\[local\.region\]', tf_text):
                problem("the probe function's role must limit its writes to its own region's results (dynamodb:LeadingKeys = the function's region)")
        # The rollup job touches only the rollup items of the state table, whose keys the code
        # writes with these prefixes.
        if fname == "rollup":
            prefixes = ["rollup#*", "rollups-done#*"]
            code = store_code()
            for p in prefixes:
                if f'"{p[:-1]}{{' not in code:
                    problem(f"the rollup function's role allows state keys {p}, which the store code does not write")
            state = [
                st
                for pol in role.get("Policies", [])
                for st in pol["PolicyDocument"]["Statement"]
                if sam_canon(tpl, st["Resource"]) == "table:state"
            ]
            limited = [st for st in state if st.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys") == prefixes]
            tf_text = read(TF_FILES["rollup"][0])
            tf_ok = re.search(r'"dynamodb:LeadingKeys"\s*=\s*\["rollup#\*", "rollups-done#\*"\]', tf_text)
            if not state or len(limited) != len(state) or not tf_ok:
                problem("the rollup function's role must limit its state access to the rollup items (dynamodb:LeadingKeys = rollup#*, rollups-done#*)")
        # The ping functions write results under the heartbeats' region only, and touch only the
        # heartbeat items of the state table, whose keys the code writes.
        if fname in ("ping", "ping-judge"):
            region = re.search(r'pub const REGION: &str = "([^"]+)"', read("shared/core/src/kinds/heartbeat/mod.rs")).group(1)
            code = store_code()
            for key in ("heartbeat#", "heartbeat-endpoint"):
                if f'"{key}' not in code:
                    problem(f"the {fname} function's role names state keys {key}..., which the store code does not write")
            statements = [st for pol in role.get("Policies", []) for st in pol["PolicyDocument"]["Statement"]]
            for st in statements:
                canon = sam_canon(tpl, st["Resource"])
                cond = st.get("Condition", {})
                if canon == "table:results" and cond.get("ForAllValues:StringEquals", {}).get("dynamodb:LeadingKeys") != [region]:
                    problem(f"SAM: the {fname} function's role must limit its results writes to the region {region} (dynamodb:LeadingKeys)")
                if canon == "table:state" and not all(k in ("heartbeat#*", "heartbeat-endpoint") for k in cond.get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys", ["?"])):
                    problem(f"SAM: the {fname} function's role must limit its state access to the heartbeat items (dynamodb:LeadingKeys)")
            tf_text = read(TF_FILES[fname][0])
            policy = dict(tf_blocks(tf_text, "aws_iam_role_policy")).get(fname.replace("-", "_"), "")
            if policy.count('"dynamodb:LeadingKeys" = ["%s"]' % region) != 1:
                problem(f"Terraform: the {fname} function's role must limit its results writes to the region {region} (dynamodb:LeadingKeys)")
            state_statements = len(re.findall(r"Resource = aws_dynamodb_table\.state\.arn", policy))
            limited = len(re.findall(r'"dynamodb:LeadingKeys" = \["heartbeat(?:#\*|-endpoint)"\]', policy))
            if state_statements == 0 or state_statements != limited:
                problem(f"Terraform: the {fname} function's role must limit its state access to the heartbeat items (dynamodb:LeadingKeys)")


def check_alarms():
    emitted = code_metrics()
    emitted_names = {m for m, _ in emitted}
    for tname in ("home", "probe-region"):
        tpl = sam(tname)
        for lid, res in sam_resources(tpl).items():
            if res.get("Type") != "AWS::CloudWatch::Alarm":
                continue
            p = res["Properties"]
            dims = {d["Name"]: d["Value"] for d in p.get("Dimensions", [])}
            if p["Namespace"] == "Atalaya":
                for d in dims or [None]:
                    if (p["MetricName"], d) not in emitted:
                        problem(f"SAM {tname}: alarm {lid} watches {p['MetricName']} by {d}, which no function emits (they emit {sorted(emitted_names)})")
            elif p["Namespace"] == "AWS/Lambda":
                if sam_canon(tpl, dims.get("FunctionName")) not in ("function:AlertFunction", "function:ProbeFunction", "function:MailerFunction", "function:PagesFunction", "function:RollupFunction", "function:PingFunction", "function:PingJudgeFunction"):
                    problem(f"SAM {tname}: alarm {lid} is on a function this stack does not create")
            elif p["Namespace"] == "AWS/ApiGateway":
                api = dims.get("ApiId")
                apis = [k for k, v in sam_resources(tpl).items() if isinstance(v, dict) and v.get("Type") == "AWS::ApiGatewayV2::Api"]
                if not (isinstance(api, dict) and api.get("Ref") in apis) or dims.get("Stage") != "$default":
                    problem(f"SAM {tname}: alarm {lid} is not on an HTTP API this stack creates (ApiId and Stage $default)")
            elif p["Namespace"] == "AWS/SQS":
                q = dims.get("QueueName", {})
                if not (isinstance(q, dict) and "Fn::GetAtt" in q and sam_canon(tpl, {"Fn::GetAtt": q["Fn::GetAtt"]}).startswith("queue:")):
                    problem(f"SAM {tname}: alarm {lid} is on a queue this stack does not create")
    for rel in ("infra/terraform/alarms.tf", "infra/terraform/rollup.tf", "infra/terraform/ping.tf", "infra/terraform/modules/probe-region/main.tf"):
        text = read(rel)
        for label, body in tf_blocks(text, "aws_cloudwatch_metric_alarm"):
            ns = re.search(r'namespace\s*=\s*"([^"]+)"', body).group(1)
            metric = re.search(r"metric_name\s*=\s*(\S+)", body).group(1)
            if metric.startswith('"'):
                metrics = [metric.strip('"')]
            else:
                local = re.search(r"for_each\s*=\s*local\.(\w+)", body).group(1)
                block = re.search(r"\b%s\s*=\s*\{" % local, text)
                metrics = re.findall(r'metric\s*=\s*"(\w+)"', balanced(text, block.end() - 1, "{", "}"))
            dim = re.search(r"dimensions\s*=\s*\{\s*(\w+)\s*=", body)
            if ns == "Atalaya":
                for m in metrics:
                    if (m, dim.group(1) if dim else None) not in emitted:
                        problem(f"Terraform {rel}: alarm {label} watches {m} by {dim.group(1) if dim else None}, which no function emits")
            elif ns == "AWS/Lambda" and not re.search(r"FunctionName = aws_lambda_function\.\w+(\[0\])?\.function_name", body):
                problem(f"Terraform {rel}: alarm {label} is not on this module's function")
            elif ns == "AWS/ApiGateway" and not re.search(r'ApiId = module\.\w+_endpoint(\[0\])?\.api_id, Stage = "\$default"', body):
                problem(f"Terraform {rel}: alarm {label} is not on an HTTP API this configuration creates")
    # The same alarms on both sides (by name pattern).
    sam_names = set()
    for tname in ("home", "probe-region"):
        for res in sam_resources(sam(tname)).values():
            if res.get("Type") == "AWS::CloudWatch::Alarm":
                n = res["Properties"]["AlarmName"]
                n = public_branch(n)
                n = n.get("Fn::Sub", n) if isinstance(n, dict) else n
                sam_names.add(re.sub(r"\$\{[^}]+\}", "", n).strip("-"))
    tf_names = set()
    for rel in ("infra/terraform/alarms.tf", "infra/terraform/rollup.tf", "infra/terraform/ping.tf", "infra/terraform/modules/probe-region/main.tf"):
        text = read(rel)
        for label, body in tf_blocks(text, "aws_cloudwatch_metric_alarm"):
            n = re.search(r'alarm_name\s*=\s*"([^"]+)"', body).group(1)
            if "each.key" in n:
                local = re.search(r"for_each\s*=\s*local\.(\w+)", body).group(1)
                block = re.search(r"\b%s\s*=\s*\{" % local, text)
                for k in re.findall(r'^\s*"([\w-]+)"\s*=', balanced(text, block.end() - 1, "{", "}"), re.M):
                    tf_names.add(re.sub(r"\$\{[^}]+\}", "", n.replace("${each.key}", k)).strip("-"))
            else:
                tf_names.add(re.sub(r"\$\{[^}]+\}", "", n).strip("-"))
    if sam_names != tf_names:
        problem(f"alarms differ: SAM has {sorted(sam_names - tf_names)} that Terraform has not, Terraform {sorted(tf_names - sam_names)} that SAM has not")


def check_schedules():
    fields = probe_event_fields()

    def payload_ok(where, keys, target):
        if target == "probe" and ("region" not in keys or not keys <= fields):
            problem(f"{where}: the probe schedule's payload has {sorted(keys)}; the probe function takes {sorted(fields)} (region required)")
        if target == "alert" and keys != {"tick"}:
            problem(f"{where}: the tick's payload has {sorted(keys)}, not {{tick}}")
        if target == "rollup" and keys:
            problem(f"{where}: the rollup job's schedule passes {sorted(keys)}; the job takes nothing")
        if target == "ping-judge" and keys != {"judge"}:
            problem(f"{where}: the judge's payload has {sorted(keys)}, not {{judge}} (a function URL request would be taken for a ping)")

    for tname, lid, target in (("home", "AlertFunction", "alert"), ("home", "RollupFunction", "rollup"), ("home", "PingJudgeFunction", "ping-judge"), ("probe-region", "ProbeFunction", "probe")):
        tpl = sam(tname)
        res = sam_resources(tpl)
        inputs = []
        for ev in res[lid]["Properties"].get("Events", {}).values():
            if ev.get("Type") in ("ScheduleV2", "Schedule"):
                inputs.append(ev["Properties"].get("Input", "{}"))
        for r in res.values():
            if r.get("Type") == "AWS::Scheduler::Schedule" and target == "probe":
                inputs.append(r["Properties"]["Target"].get("Input"))
        if not inputs:
            problem(f"SAM {tname}: no schedule invokes the {target} function")
        for i in inputs:
            if isinstance(i, dict) and "Fn::ToJsonString" in i:
                payload_ok(f"SAM {tname}", set(i["Fn::ToJsonString"]), target)
                continue
            try:
                payload = json.loads(i)
            except (TypeError, ValueError) as e:
                problem(f"SAM {tname}: a schedule's payload for the {target} function is not JSON ({e}): {i!r}")
                continue
            payload_ok(f"SAM {tname}", set(payload), target)
    for rel, target in (("infra/terraform/main.tf", "alert"), ("infra/terraform/rollup.tf", "rollup"), ("infra/terraform/ping.tf", "ping-judge"), ("infra/terraform/modules/probe-region/main.tf", "probe")):
        if not list(tf_blocks(read(rel), "aws_scheduler_schedule")):
            problem(f"Terraform {rel}: no schedule invokes the {target} function")
        for label, body in tf_blocks(read(rel), "aws_scheduler_schedule"):
            m = re.search(r"input\s*=\s*jsonencode\((\{.*?\})\)", body, re.S)
            if not m:
                problem(f"Terraform {rel}: schedule {label}'s input is not a jsonencode()d object")
                continue
            payload_ok(f"Terraform {rel}", set(re.findall(r"(\w+)\s*=", m.group(1))), target)


def wildcard(action):
    return "*" in str(action)


def check_wildcards():
    def walk(node, where):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("Action", "NotAction"):
                    for a in v if isinstance(v, list) else [v]:
                        if wildcard(a):
                            problem(f"{where}: wildcard action {a}")
                else:
                    walk(v, where)
        elif isinstance(node, list):
            for v in node:
                walk(v, where)

    for path in sorted((ROOT / "infra/sam").glob("*.yaml")):
        walk(cfn_yaml.load(str(path)), f"infra/sam/{path.name}")
    for path in sorted((ROOT / "infra/terraform").rglob("*.tf")):
        text = path.read_text()
        rel = path.relative_to(ROOT)
        for s in re.findall(r'"([^"\s]*)"', text):
            if re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9*]*\*[A-Za-z0-9*]*", s):
                problem(f"{rel}: wildcard action {s}")
        for m in re.finditer(r'Action\s*=\s*"\*"', text):
            problem(f"{rel}: wildcard action *")


# The functions anyone on the internet may call, each behind a throttled HTTP API.
PUBLIC = {"PingFunction": "ping", "PagesFunction": "pages"}


def check_public_endpoints():
    """Nothing public can blind the monitor: no function URL (it cannot be throttled), and each
    public function behind an HTTP API whose stage throttles (rate and burst), invoked only
    from that API."""
    home = sam("home")
    res = sam_resources(home)
    for tname in ("home", "probe-region"):
        for lid, r in sam_resources(sam(tname)).items():
            if not isinstance(r, dict):
                continue
            if r.get("Type") == "AWS::Lambda::Url" or "FunctionUrlConfig" in r.get("Properties", {}):
                problem(f"infra/sam/{tname}.yaml: {lid} has a function URL, which no throttle bounds: put it behind a throttled HTTP API")
    of_type = lambda t: {k: v for k, v in res.items() if isinstance(v, dict) and v.get("Type") == t}
    for fn in PUBLIC:
        integ = [k for k, v in of_type("AWS::ApiGatewayV2::Integration").items() if v["Properties"].get("IntegrationUri") == {"Fn::GetAtt": [fn, "Arn"]}]
        if not integ:
            problem(f"infra/sam/home.yaml: {fn} is public but no HTTP API integration invokes it")
            continue
        api = res[integ[0]]["Properties"]["ApiId"].get("Ref")
        stages = [v["Properties"] for v in of_type("AWS::ApiGatewayV2::Stage").values() if v["Properties"].get("ApiId") == {"Ref": api}]
        if not any({"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(st.get("DefaultRouteSettings", {})) for st in stages):
            problem(f"infra/sam/home.yaml: {api} (before {fn}) has no stage that throttles (DefaultRouteSettings ThrottlingRateLimit and ThrottlingBurstLimit)")
        perms = [v["Properties"] for v in of_type("AWS::Lambda::Permission").values() if v["Properties"].get("FunctionName") == {"Ref": fn}]
        if not perms or any(p.get("Principal") != "apigateway.amazonaws.com" or "${%s}" % api not in json.dumps(p.get("SourceArn")) for p in perms):
            problem(f"infra/sam/home.yaml: {fn} may be invoked by something else than {api} (its permissions: {perms})")
    for path in sorted((ROOT / "infra/terraform").rglob("*.tf")):
        if any(True for _ in tf_blocks(path.read_text(), "aws_lambda_function_url")):
            problem(f"{path.relative_to(ROOT)}: a function URL, which no throttle bounds: use modules/public-endpoint")
    module = read("infra/terraform/modules/public-endpoint/main.tf")
    if not re.search(r"default_route_settings \{\s*throttling_rate_limit\s*=\s*var\.rate_limit\s*throttling_burst_limit\s*=\s*var\.burst_limit", module):
        problem("infra/terraform/modules/public-endpoint/main.tf: the stage does not throttle with rate_limit and burst_limit")
    if not re.search(r'principal\s*=\s*"apigateway\.amazonaws\.com"', module) or "${aws_apigatewayv2_api.this.id}/*" not in module:
        problem("infra/terraform/modules/public-endpoint/main.tf: the function may be invoked by something else than its API")
    text = "".join(read(f"infra/terraform/{f}") for f in ("ping.tf", "mail.tf"))
    for name in PUBLIC.values():
        blocks = [balanced(text, m.end() - 1, "{", "}") for m in re.finditer(r'module "%s_endpoint" \{' % name, text)]
        if not any(re.search(r'source\s*=\s*"\./modules/public-endpoint"', b) and re.search(r"function_arn\s*=\s*aws_lambda_function\.%s(\[0\])?\.arn" % name, b) for b in blocks):
            problem(f"infra/terraform: the {name} function is public but not behind modules/public-endpoint (module \"{name}_endpoint\")")


def check_cost_floor():
    """The estimate's fixed floor (shared/core/src/cost.rs) counts the alarms and keys the SAM
    stacks create."""
    text = read("shared/core/src/cost.rs")

    def const(name):
        m = re.search(r"const %s: u32 = ([0-9 +]+);" % name, text)
        return eval(m.group(1)) if m else None  # a sum of literals, e.g. "4 + 1"

    home = sam_resources(sam("home"))
    region = sam_resources(sam("probe-region"))
    kind = lambda res, t: [(k, v.get("Condition")) for k, v in res.items() if isinstance(v, dict) and v.get("Type") == t]
    # The per-region alarms the home stack makes in a loop are counted per region.
    per_region_home = [k for k, v in home.items() if isinstance(v, dict) and "results-missing" in json.dumps(v.get("Properties", {}).get("AlarmName", ""))]
    home_alarms = [a for a in kind(home, "AWS::CloudWatch::Alarm") if a[0] not in per_region_home]
    always = len([a for a in home_alarms if not a[1]])
    mail = len([a for a in home_alarms if a[1] == "HasMail"])
    per_region = len(kind(region, "AWS::CloudWatch::Alarm")) + 1  # and results-missing-<region>
    # Custom metrics: each one an alarm watches (else it costs $0.30 a month for nobody), and
    # counted as the code declares them.
    watched = set()
    for tpl in (home, region):
        for r in tpl.values():
            if isinstance(r, dict) and r.get("Type") == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == "Atalaya":
                watched.add(r["Properties"]["MetricName"])
    for metric in sorted(declared_metrics() - watched):
        problem(f"shared/aws/src/lib.rs: {metric} is a custom metric ($0.30 a month each) that no alarm watches: keep it a log field")
    emitted = code_metrics(by_function=True)
    count = lambda fns, dim: len({(m, d) for f, m, d in emitted if f in fns and d == dim})
    metrics_want = (("HOME_METRICS", count(("alert", "rollup"), "Function")), ("REGION_METRICS", count(("alert", "probe"), "Region")), ("HEARTBEAT_METRICS", count(("ping",), "Function")))
    for name, want in metrics_want + (("HOME_ALARMS", always), ("MAIL_ALARMS", mail), ("REGION_ALARMS", per_region), ("HOME_KMS_KEYS", len(kind(home, "AWS::KMS::Key")))):
        if const(name) != want:
            problem(f"shared/core/src/cost.rs: {name} is {const(name)}, but the stacks (SAM, and the metrics the code declares) have {want}: the estimate's floor is off")
    if len(kind(region, "AWS::KMS::Key")) != 1:
        problem("shared/core/src/cost.rs: the floor counts one KMS key per probe region, but the probe stack has another number")


def check_status_site():
    """The status site's CloudFront is optional (a new account may not create distributions):
    every CloudFront resource exists only with StatusSite=cloudfront (SAM) / local.cdn (Terraform),
    and both default to CloudFront."""
    home = sam("home")
    for lid, res in sam_resources(home).items():
        if isinstance(res, dict) and str(res.get("Type", "")).startswith("AWS::CloudFront::") and res.get("Condition") != "HasCdn":
            problem(f"infra/sam/home.yaml: {lid} is created without StatusSite=cloudfront (Condition: HasCdn): a new account's deploy would roll back")
    if home["Parameters"].get("StatusSite", {}).get("Default") != "cloudfront":
        problem("infra/sam/home.yaml: the StatusSite parameter should default to cloudfront")
    text = read("infra/terraform/site.tf")
    for kind in ("aws_cloudfront_distribution", "aws_cloudfront_origin_access_control", "aws_cloudfront_function"):
        for label, body in tf_blocks(text, kind):
            if not re.search(r"count\s*=\s*local\.cdn \? 1 : 0", body):
                problem(f"infra/terraform/site.tf: {kind}.{label} is created without status_site = \"cloudfront\" (count = local.cdn ? 1 : 0)")
    variables = read("infra/terraform/variables.tf")
    m = re.search(r'variable "status_site" \{.*?default\s*=\s*"(\w+)"', variables, re.S)
    if not m or m.group(1) != "cloudfront":
        problem("infra/terraform/variables.tf: the status_site variable should default to cloudfront")


def check_topic_names():
    """The alert function finds each probe region's alarms topic by name
    (atalaya_aws::subscriptions::topics: <prefix>alarms-<region>, beside <prefix>operators)."""
    code = read("shared/aws/src/subscriptions.rs")
    if '{prefix}alarms-{name}' not in code or 'strip_suffix("operators")' not in code:
        problem("shared/aws/src/subscriptions.rs: the topics' names are no longer <prefix>operators and <prefix>alarms-<region>; update this check and the stacks together")
    home = sam_resources(sam("home"))
    region = sam_resources(sam("probe-region"))
    names = lambda res: [json.dumps(public_branch(r["Properties"].get("TopicName"))) for r in res.values() if isinstance(r, dict) and r.get("Type") == "AWS::SNS::Topic"]
    if '{"Fn::Sub": "${Prefix}alarms-${AWS::Region}"}' not in names(region):
        problem(f"infra/sam/probe-region.yaml: the alarms topic is not named ${{Prefix}}alarms-${{AWS::Region}} (it is {names(region)}): the alert function would not find its subscriptions")
    if '{"Fn::Sub": "${Prefix}operators"}' not in names(home):
        problem("infra/sam/home.yaml: the operators topic is not named ${Prefix}operators")
    tf = read("infra/terraform/modules/probe-region/main.tf")
    if not re.search(r'name\s*=\s*"\$\{var\.prefix\}alarms-\$\{local\.region\}"', tf):
        problem("infra/terraform/modules/probe-region/main.tf: the alarms topic is not named ${var.prefix}alarms-${local.region}: the alert function would not find its subscriptions")


def check_checkov_skips():
    for path in sorted((ROOT / "infra/sam").glob("*.yaml")):
        for lid, res in sam_resources(cfn_yaml.load(str(path))).items():
            for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", []):
                if len(str(skip.get("comment", "")).strip()) < 10:
                    problem(f"infra/sam/{path.name}: {lid} skips {skip.get('id')} without a reason")
    for path in sorted((ROOT / "infra/terraform").rglob("*.tf")):
        for m in re.finditer(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?", path.read_text()):
            if len((m.group(2) or "").strip()) < 10:
                problem(f"{path.relative_to(ROOT)}: {m.group(1)} skipped without a reason")
    if "--skip-check" in read("Makefile"):
        problem("Makefile: checkov skips a check globally; put the skip on its resource, with its reason")


for check in (check_tables, check_environment_and_iam, check_alarms, check_schedules, check_wildcards, check_public_endpoints, check_cost_floor, check_status_site, check_topic_names, check_checkov_skips):
    try:
        check()
    except Exception as e:  # a template this script cannot read is a problem too
        problem(f"{check.__name__}: cannot read the templates as expected: {type(e).__name__}: {e}")

for p in problems:
    print(f"infra/check-consistency.py: {p}", file=sys.stderr)
if problems:
    sys.exit(1)
print("infra consistency: tables, environment, IAM, alarms, schedules, wildcards, throttled public endpoints, the optional CloudFront and checkov skips agree (SAM, Terraform, code)")
