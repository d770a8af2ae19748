#!/usr/bin/env python3
"""Writes each SAM template with sample parameter values as defaults into DIR, so that
`sam validate --lint --language-extensions` can expand its Fn::ForEach loops the way a deploy
would (`sam validate` takes no parameter values). The samples include two operator addresses
that differ only in punctuation and several shards; the expansion must give each entry its own
resource (one subscription per address, one schedule per shard). Used by `make validate-infra`."""
import json
import pathlib
import subprocess
import sys

from cfnlint.decode import cfn_yaml
from samcli.lib.cfn_language_extensions.api import process_template

ROOT = pathlib.Path(__file__).resolve().parent.parent


def keyed(entries: str) -> str:
    """The entries as `make deploy-sam` passes them (infra/keyed.sh)."""
    return subprocess.run([str(ROOT / "infra/keyed.sh"), entries], check=True, capture_output=True, text=True).stdout.strip()


SAMPLES = {
    "ProbeRegions": "eu-west-1,us-east-1",
    # Two addresses that differ only in punctuation; one address for two customers.
    "OperatorEmails": keyed("a.b@example.com,ab@example.com"),
    "CustomerSubscriptions": keyed("acme=it@acme.example,globex=it@acme.example"),
    "HomeRegion": "eu-west-1",
    "Shards": "0,1,2",
    "CustomersTopicArn": "arn:aws:sns:eu-west-1:111122223333:atalaya-customers",
    "Email": "it@acme.example",
    "Customer": "acme",
    "MailDomain": "acme.example",
}


# A private location's parameters (the probe stack inside a VPC).
PRIVATE = {"Location": "vpc-prod", "SubnetIds": "subnet-0a1b2c3d,subnet-0e4f5a6b", "SecurityGroupIds": "sg-0c3d4e5f"}


def main(out: pathlib.Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "infra/sam").glob("*.yaml")):
        tpl = cfn_yaml.load(str(path))
        for name, p in tpl.get("Parameters", {}).items():
            if name in SAMPLES:
                p["Default"] = SAMPLES[name]
        (out / f"{path.stem}.json").write_text(json.dumps(tpl, indent=1, default=str))
        if "AWS::LanguageExtensions" in tpl.get("Transform", []):
            expected_entries(path.name, tpl)
        # The probe stack as a private location too: named, in a VPC.
        if "Location" in tpl.get("Parameters", {}):
            for name, value in PRIVATE.items():
                tpl["Parameters"][name]["Default"] = value
            (out / f"{path.stem}-private.json").write_text(json.dumps(tpl, indent=1, default=str))


def expected_entries(name: str, tpl: dict) -> None:
    values = {k: p["Default"].split(",") for k, p in tpl["Parameters"].items() if k in SAMPLES}
    expanded = process_template(json.loads(json.dumps(tpl, default=str)), parameter_values=values)
    types = [r.get("Type") for r in expanded["Resources"].values()]
    want = {
        "AWS::SNS::Subscription": len(values.get("OperatorEmails", []))
        + len(values.get("CustomerSubscriptions", [])),
        "AWS::Scheduler::Schedule": len(values.get("Shards", [])),
    }
    for kind, n in want.items():
        if types.count(kind) != n:
            sys.exit(f"infra/sam/{name}: {types.count(kind)} {kind} resources from {n} entries")
    print(f"infra/sam/{name}: " + ", ".join(f"{n} {k}" for k, n in want.items()) + " from as many entries")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
