//! What `doctor` reads from AWS, read-only, with the operator's credentials: each fact is the
//! answer or why it could not be had. Nothing here judges; `findings` does.

use super::deployment::Deployment;
use atalaya_aws::subscriptions::{of_topic, region_of, Subscriptions};
use std::time::Duration;

/// How far back "ran recently" looks.
pub const RECENT: Duration = Duration::from_secs(15 * 60);

pub type Got<T> = Result<T, String>;

#[derive(Clone, Debug)]
pub struct Function {
    pub region: String,
    pub name: String,
    /// Its state (`Active`), or `None` when it does not exist.
    pub state: Got<Option<String>>,
    /// Invocations and errors in the last [`RECENT`].
    pub invocations: Got<f64>,
    pub errors: Got<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Alarm {
    pub region: String,
    pub name: String,
    pub state: String,
    pub reason: String,
}

#[derive(Clone, Debug)]
pub struct Facts {
    /// Each table's status, or `None` when it does not exist.
    pub tables: Vec<(String, Got<Option<String>>)>,
    pub functions: Vec<Function>,
    /// Per region: the installation's alarms not OK.
    pub alarms: Vec<(String, Got<Vec<Alarm>>)>,
    pub subscriptions: Vec<(String, Got<Subscriptions>)>,
    /// The SES identity verified for sending; the account out of the sandbox (with mail).
    pub ses_identity: Option<Got<bool>>,
    pub ses_production: Option<Got<bool>>,
    /// Per region: the account's concurrency quota and what is left unreserved.
    pub concurrency: Vec<(String, Got<(i32, i32)>)>,
    /// Each public endpoint's `/alive`: up, or why not.
    pub endpoints: Vec<(String, Got<()>)>,
    /// Each public function's resource policy: the principals that may invoke it.
    pub invokers: Vec<(String, Got<Vec<String>>)>,
    /// The newest published checks file's version (`None`: nothing published).
    pub published: Got<Option<String>>,
    /// Per function that reads it: the checks version its latest log line says it runs
    /// (`None`: no line in the last [`RECENT`]).
    pub running: Vec<(String, String, Got<Option<String>>)>,
    /// The status site's distribution: its status and address, `None` when there is none.
    pub distribution: Got<Option<(String, String)>>,
}

/// Reads everything `d` is made of. `endpoint` is for tests (moto_server).
pub async fn gather(
    d: &Deployment,
    config: &atalaya_core::Config,
    endpoint: Option<&str>,
) -> Facts {
    let home = atalaya_aws::sdk_config(&d.home, endpoint).await;
    let mut functions = Vec::new();
    for (region, name) in d.functions() {
        let sdk = atalaya_aws::sdk_config(&region, endpoint).await;
        functions.push(function(&sdk, &region, &name).await);
    }
    let (mut alarms_of, mut concurrency) = (Vec::new(), Vec::new());
    for region in d.regions() {
        let sdk = atalaya_aws::sdk_config(&region, endpoint).await;
        alarms_of.push((region.clone(), alarms(&sdk, &region, &d.prefix).await));
        concurrency.push((region, limits(&sdk).await));
    }
    let mut subscriptions = Vec::new();
    for topic in atalaya_aws::subscriptions::topics(&d.operators_topic(), &d.probe_regions) {
        let region = region_of(&topic).unwrap_or(&d.home).to_string();
        let sdk = atalaya_aws::sdk_config(&region, endpoint).await;
        let got = of_topic(
            &aws_sdk_sns::Client::new(&sdk),
            &topic,
            Duration::from_secs(20),
        )
        .await;
        subscriptions.push((topic, got));
    }
    let (mut ses_identity, mut ses_production) = (None, None);
    if let Some(domain) = &d.mail_domain {
        let ses = aws_sdk_sesv2::Client::new(&home);
        ses_identity = Some(
            ses.get_email_identity()
                .email_identity(domain)
                .send()
                .await
                .map(|i| i.verified_for_sending_status())
                .map_err(|e| atalaya_aws::detail(&e)),
        );
        ses_production = Some(
            ses.get_account()
                .send()
                .await
                .map(|a| a.production_access_enabled())
                .map_err(|e| atalaya_aws::detail(&e)),
        );
    }
    let lambda = aws_sdk_lambda::Client::new(&home);
    let mut invokers_of = Vec::new();
    for name in d.public_functions() {
        invokers_of.push((name.clone(), invokers(&lambda, &name).await));
    }
    let mut running = Vec::new();
    for (region, name) in d.versioned_functions() {
        let sdk = atalaya_aws::sdk_config(&region, endpoint).await;
        let got = running_version(&sdk, &name).await;
        running.push((region, name, got));
    }
    Facts {
        tables: tables(&home, d).await,
        functions,
        alarms: alarms_of,
        subscriptions,
        ses_identity,
        ses_production,
        concurrency,
        endpoints: super::endpoints::look(d, config).await,
        invokers: invokers_of,
        published: atalaya_aws::checks::S3Checks::new(
            &home,
            &d.checks_bucket(),
            atalaya_aws::checks::DEFAULT_KEY,
        )
        .latest()
        .await,
        running,
        distribution: distribution(&home, &d.distribution_comment()).await,
    }
}

/// The account's Lambda concurrency quota in a region, and what is left unreserved.
async fn limits(sdk: &aws_config::SdkConfig) -> Got<(i32, i32)> {
    let s = aws_sdk_lambda::Client::new(sdk)
        .get_account_settings()
        .send()
        .await
        .map_err(|e| atalaya_aws::detail(&e))?;
    let l = s.account_limit();
    Ok((
        l.map_or(0, |l| l.concurrent_executions()),
        l.and_then(|l| l.unreserved_concurrent_executions())
            .unwrap_or(0),
    ))
}

async fn tables(sdk: &aws_config::SdkConfig, d: &Deployment) -> Vec<(String, Got<Option<String>>)> {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let mut out = Vec::new();
    for name in d.tables() {
        let got = match client.describe_table().table_name(&name).send().await {
            Ok(t) => Ok(Some(
                t.table()
                    .and_then(|t| t.table_status())
                    .map_or("unknown".into(), |s| s.as_str().to_string()),
            )),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(atalaya_aws::detail(&e)),
        };
        out.push((name, got));
    }
    out
}

async fn function(sdk: &aws_config::SdkConfig, region: &str, name: &str) -> Function {
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let state = match lambda.get_function().function_name(name).send().await {
        Ok(f) => Ok(Some(
            f.configuration()
                .and_then(|c| c.state())
                .map_or("Active".into(), |s| s.as_str().to_string()),
        )),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(atalaya_aws::detail(&e)),
    };
    let cw = aws_sdk_cloudwatch::Client::new(sdk);
    Function {
        region: region.into(),
        name: name.into(),
        state,
        invocations: lambda_sum(&cw, name, "Invocations").await,
        errors: lambda_sum(&cw, name, "Errors").await,
    }
}

/// The sum of one of Lambda's own metrics for `function` over the last [`RECENT`].
async fn lambda_sum(cw: &aws_sdk_cloudwatch::Client, function: &str, metric: &str) -> Got<f64> {
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let now = std::time::SystemTime::now();
    let out = cw
        .get_metric_statistics()
        .namespace("AWS/Lambda")
        .metric_name(metric)
        .dimensions(
            Dimension::builder()
                .name("FunctionName")
                .value(function)
                .build(),
        )
        .start_time((now - RECENT).into())
        .end_time(now.into())
        .period(60)
        .statistics(Statistic::Sum)
        .send()
        .await
        .map_err(|e| atalaya_aws::detail(&e))?;
    Ok(out.datapoints().iter().filter_map(|p| p.sum()).sum())
}

async fn alarms(sdk: &aws_config::SdkConfig, region: &str, prefix: &str) -> Got<Vec<Alarm>> {
    let cw = aws_sdk_cloudwatch::Client::new(sdk);
    let mut out = Vec::new();
    let mut next = None;
    for _ in 0..20 {
        let page = cw
            .describe_alarms()
            .alarm_name_prefix(prefix)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| atalaya_aws::detail(&e))?;
        for a in page.metric_alarms() {
            let state = a.state_value().map_or("", |s| s.as_str());
            if state != "OK" {
                out.push(Alarm {
                    region: region.into(),
                    name: a.alarm_name().unwrap_or("?").into(),
                    state: state.into(),
                    reason: a.state_reason().unwrap_or("").into(),
                });
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// The principals of `function`'s resource policy.
async fn invokers(lambda: &aws_sdk_lambda::Client, function: &str) -> Got<Vec<String>> {
    let policy = match lambda.get_policy().function_name(function).send().await {
        Ok(p) => p.policy().unwrap_or("{}").to_string(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(Vec::new())
        }
        Err(e) => return Err(atalaya_aws::detail(&e)),
    };
    let doc: serde_json::Value =
        serde_json::from_str(&policy).map_err(|e| format!("its policy is not JSON: {e}"))?;
    let mut out = Vec::new();
    for s in doc["Statement"].as_array().into_iter().flatten() {
        let p = &s["Principal"];
        let who = p["Service"]
            .as_str()
            .or(p["AWS"].as_str())
            .or(p.as_str())
            .unwrap_or("?");
        out.push(who.to_string());
    }
    Ok(out)
}

/// The checks version the latest log line of `function` (in the last [`RECENT`]) names.
async fn running_version(sdk: &aws_config::SdkConfig, function: &str) -> Got<Option<String>> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let since = chrono::Utc::now().timestamp_millis() - RECENT.as_millis() as i64;
    let mut latest: Option<(i64, String)> = None;
    let mut next = None;
    for _ in 0..10 {
        let page = logs
            .filter_log_events()
            .log_group_name(format!("/aws/lambda/{function}"))
            .start_time(since)
            .filter_pattern("\"ChecksVersion\"")
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| atalaya_aws::detail(&e))?;
        for e in page.events() {
            let line: serde_json::Value =
                serde_json::from_str(e.message().unwrap_or("")).unwrap_or_default();
            if let (Some(v), Some(at)) = (line["ChecksVersion"].as_str(), e.timestamp()) {
                if latest.as_ref().is_none_or(|(t, _)| at >= *t) {
                    latest = Some((at, v.to_string()));
                }
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(latest.map(|(_, v)| v))
}

async fn distribution(sdk: &aws_config::SdkConfig, comment: &str) -> Got<Option<(String, String)>> {
    let cf = aws_sdk_cloudfront::Client::new(sdk);
    let list = cf
        .list_distributions()
        .send()
        .await
        .map_err(|e| atalaya_aws::detail(&e))?;
    Ok(list
        .distribution_list()
        .map(|l| l.items())
        .unwrap_or_default()
        .iter()
        .find(|d| d.comment() == comment)
        .map(|d| (d.status().to_string(), d.domain_name().to_string())))
}
