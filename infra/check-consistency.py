#!/usr/bin/env python3
"""The SAM templates, the Terraform and the Rust code must describe the same tables and the same
environment. Checks, offline:
  - SAM and Terraform create the same four tables (name suffix, keys, stream, TTL attribute,
    the outbox's `pending` index), and they are the tables `DynamoStore::create_tables` creates
    (read from shared/store/src/dynamodb/);
  - every ATALAYA_* variable the templates set is one the functions read.
Run by `make validate-infra` with the virtualenv's Python (cfn-lint and python-hcl2 inside)."""
import pathlib
import re
import sys

import hcl2
from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
problems = []


def sam_tables():
    tpl = cfn_yaml.load(str(ROOT / "infra/sam/home.yaml"))
    out = {}
    for res in tpl["Resources"].values():
        if not isinstance(res, dict) or res.get("Type") != "AWS::DynamoDB::Table":
            continue
        p = res["Properties"]
        name = p["TableName"]["Fn::Sub"].replace("${Prefix}", "")
        keys = tuple(k["AttributeName"] for k in p["KeySchema"])
        gsis = {
            g["IndexName"]: tuple(k["AttributeName"] for k in g["KeySchema"])
            for g in p.get("GlobalSecondaryIndexes", [])
        }
        out[name] = {
            "keys": keys,
            "stream": p.get("StreamSpecification", {}).get("StreamViewType"),
            "ttl": p.get("TimeToLiveSpecification", {}).get("AttributeName"),
            "indexes": gsis,
        }
    return out


def one(v):
    """python-hcl2 0.4 wraps each attribute value in a list."""
    return v[0] if isinstance(v, list) and len(v) == 1 else v


def tf_tables():
    with open(ROOT / "infra/terraform/main.tf") as f:
        tf = hcl2.load(f)
    out = {}
    for block in tf.get("resource", []):
        for _, t in block.get("aws_dynamodb_table", {}).items():
            name = re.sub(r"^\$\{local\.tables\.(\w+)\}$", r"\1", one(t["name"]))
            keys = tuple(one(k) for k in (t.get("hash_key"), t.get("range_key")) if k)
            ttl = one(t["ttl"]).get("attribute_name") if "ttl" in t else None
            gsis = {
                one(g["name"]): tuple(one(k) for k in (g.get("hash_key"), g.get("range_key")) if k)
                for g in t.get("global_secondary_index", [])
            }
            out[name] = {
                "keys": keys,
                "stream": one(t["stream_view_type"]) if "stream_view_type" in t else None,
                "ttl": one(ttl),
                "indexes": gsis,
            }
    return out


def store_code():
    """The DynamoDB store's source, every file of it."""
    files = sorted((ROOT / "shared/store/src/dynamodb").rglob("*.rs"))
    if not files:
        sys.exit("infra/check-consistency.py: no DynamoDB store code under shared/store/src/dynamodb/")
    return "\n".join(f.read_text() for f in files)


def code_tables():
    src = store_code()
    names = set(re.findall(r'format!\("\{prefix\}(\w+)"\)', src))
    return names, {
        "ttl": re.findall(r'TimeToLiveSpecification::builder\(\)\s*\.enabled\(true\)\s*\.attribute_name\("(\w+)"\)', src),
        "index": re.findall(r'\.index_name\("(\w+)"\)', src),
        "stream": "StreamViewType::NewImage" in src,
    }


sam, tf = sam_tables(), tf_tables()
if sam != tf:
    problems.append(f"SAM and Terraform tables differ:\n  SAM: {sam}\n  Terraform: {tf}")
names, code = code_tables()
if set(sam) != names:
    problems.append(f"tables in the templates {sorted(sam)} are not the code's {sorted(names)}")
if sam.get("results", {}).get("ttl") not in (code["ttl"] or []):
    problems.append(f"the results' TTL attribute {sam.get('results', {}).get('ttl')} is not the code's {code['ttl']}")
if sam.get("results", {}).get("stream") != "NEW_IMAGE" or not code["stream"]:
    problems.append("the results table must stream NEW_IMAGE, as the code creates it")
for index in code["index"]:
    if index not in sam.get("outbox", {}).get("indexes", {}):
        problems.append(f"the code queries index {index}, which the templates do not create")

# Environment: what the templates set must be read by the functions.
read = set()
for path in (ROOT / "functions").rglob("*.rs"):
    read |= set(re.findall(r'"(ATALAYA_\w+)"', path.read_text()))
read |= set(re.findall(r'"(ATALAYA_\w+)"', store_code()))
set_by_infra = set()
for path in list((ROOT / "infra/sam").glob("*.yaml")) + list((ROOT / "infra/terraform").rglob("*.tf")):
    set_by_infra |= set(re.findall(r"\b(ATALAYA_\w+)\s*[:=]", path.read_text()))
for var in sorted(set_by_infra - read):
    problems.append(f"the templates set {var}, which no function reads")

for p in problems:
    print(f"infra/check-consistency.py: {p}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"infra consistency: {len(sam)} tables agree (SAM, Terraform, code); {len(set_by_infra)} variables set, all read")
