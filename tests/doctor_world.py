"""A deployment of Atalaya in moto_server, as the SAM and Terraform stacks name it, for
`atalaya doctor`'s tests: `healthy` makes every piece (functions that ran, OK alarms, confirmed
subscriptions, a published checks file the functions log they run, the status site), and each
fault breaks one thing. Usage: doctor_world.py ENDPOINT PREFIX healthy|alarm|permission|stale"""
import io
import json
import sys
import time
import zipfile

import boto3

ENDPOINT, PREFIX, WHAT = sys.argv[1], sys.argv[2], sys.argv[3]
HOME, PROBES = "eu-west-1", ["eu-west-1", "us-east-1"]
ACCOUNT = "123456789012"


def client(service, region=HOME):
    return boto3.client(service, region_name=region, endpoint_url=ENDPOINT,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def functions():
    home = ["alert", "rollup", "ping", "ping-judge", "mailer", "pages"]
    return [(HOME, PREFIX + f) for f in home] + [(r, PREFIX + "probe") for r in PROBES]


def healthy():
    role = client("iam").create_role(RoleName=PREFIX + "role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    now = time.time()
    for region, name in functions():
        client("lambda", region).create_function(FunctionName=name, Runtime="provided.al2023", Role=role, Handler="bootstrap", Code={"ZipFile": code.getvalue()})
        cw = client("cloudwatch", region)
        for metric, value in (("Invocations", 15.0), ("Errors", 0.0)):
            cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[{"MetricName": metric, "Dimensions": [{"Name": "FunctionName", "Value": name}], "Timestamp": now - 120, "Value": value}])
    for name in (PREFIX + "ping", PREFIX + "pages"):
        client("lambda").add_permission(FunctionName=name, StatementId="HttpApiInvoke", Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com", SourceArn=f"arn:aws:execute-api:{HOME}:{ACCOUNT}:abc123/*")
    ddb = client("dynamodb")
    for t in ("results", "state", "incidents", "outbox", "subscribers"):
        ddb.create_table(TableName=PREFIX + t, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}])
    for region in PROBES:
        cw = client("cloudwatch", region)
        for alarm in ("alert-errors", "ping-5xx") if region == HOME else ("probe-errors",):
            cw.put_metric_alarm(AlarmName=PREFIX + alarm, Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum", Period=300, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold")
            cw.set_alarm_state(AlarmName=PREFIX + alarm, StateValue="OK", StateReason="Threshold Crossed: no errors")
    topics = [(HOME, PREFIX + "operators")] + [(r, f"{PREFIX}alarms-{r}") for r in PROBES]
    for region, name in topics:
        sns = client("sns", region)
        arn = sns.create_topic(Name=name)["TopicArn"]
        sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="oncall@example.com")
    s3 = client("s3")
    bucket = f"{PREFIX}checks-{ACCOUNT}-{HOME}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": HOME})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="checks.tar.gz", Body=b"bundle")["VersionId"]
    for region, name in [(HOME, PREFIX + "alert"), (HOME, PREFIX + "ping-judge")] + [(r, PREFIX + "probe") for r in PROBES]:
        logs = client("logs", region)
        group = f"/aws/lambda/{name}"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="2026/12/07/[$LATEST]abc")
        line = {"_aws": {"Timestamp": int(now * 1000)}, "Function": "alert", "ChecksFileRejected": 0.0, "ChecksVersion": version}
        logs.put_log_events(logGroupName=group, logStreamName="2026/12/07/[$LATEST]abc", logEvents=[{"timestamp": int(now * 1000) - 60000, "message": json.dumps(line)}])
    client("cloudfront", "us-east-1").create_distribution(DistributionConfig={
        "CallerReference": PREFIX, "Comment": PREFIX + "status site", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "site", "DomainName": f"{PREFIX}site.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https", "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})
    print(version)


if WHAT == "healthy":
    healthy()
elif WHAT == "alarm":
    client("cloudwatch").set_alarm_state(AlarmName=PREFIX + "ping-5xx", StateValue="ALARM", StateReason="Threshold Crossed: 4 datapoints were greater than or equal to the threshold (3.0)")
elif WHAT == "permission":
    client("lambda").remove_permission(FunctionName=PREFIX + "pages", StatementId="HttpApiInvoke")
elif WHAT == "stale":
    s3 = client("s3")
    print(s3.put_object(Bucket=f"{PREFIX}checks-{ACCOUNT}-{HOME}", Key="checks.tar.gz", Body=b"newer bundle")["VersionId"])
else:
    sys.exit(f"unknown: {WHAT}")
