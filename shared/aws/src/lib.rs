//! AWS wiring shared by the adapters (DynamoDB, SNS) and the Lambda functions.

// Tests are scenarios told whole; the 100-line limit (clippy.toml) is for the code they test.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod checks;
pub mod init;
pub mod link_key;
pub mod references;
pub mod subscriptions;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::time::Duration;

/// Error codes worth trying again: throttling, server errors, transaction conflicts, for every
/// service Atalaya calls (DynamoDB, SNS, KMS behind them).
const RETRYABLE: [&str; 11] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "KMSThrottling",
    "KMSThrottlingException",
];

/// Is a service error with this code worth retrying?
pub fn retryable(code: Option<&str>) -> bool {
    code.is_some_and(|c| RETRYABLE.contains(&c))
}

/// A failed AWS call, in the terms the callers act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Trying again may succeed: throttling, server errors, and anything that never reached a
    /// service (transport, timeouts).
    pub retryable: bool,
    /// `<code> <message>` (or `transport <debug>`), for logs and operators.
    pub detail: String,
}

/// Classifies a failed SDK call: the one place that decides what is worth retrying.
pub fn classify<E, R>(e: &SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(service) => Failure {
            retryable: retryable(service.code()),
            detail: format!(
                "{} {}",
                service.code().unwrap_or("unknown"),
                service.message().unwrap_or_default()
            ),
        },
        None => Failure {
            retryable: true,
            detail: format!("transport {e:?}"),
        },
    }
}

/// A failed SDK call in words, for logs and operators (`classify`'s detail).
pub fn detail<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    classify(e).detail
}

/// The roots AWS's endpoints chain to: Amazon Trust Services' Amazon Root CA 1–4, and Starfield
/// Services Root G2, which cross-signs them (every AWS endpoint, VPC endpoints included,
/// presents an Amazon Trust Services certificate).
const AWS_ROOTS: &str = include_str!("aws-roots.pem");

/// What the SDK's TLS trusts: [`AWS_ROOTS`]; the system's store (read and parsed at every cold
/// start: 3 ms of the function's init) only when `ATALAYA_AWS_SYSTEM_ROOTS` is set, for an
/// endpoint or proxy of one's own that presents another certificate.
fn trust_store() -> aws_smithy_http_client::tls::TrustStore {
    use aws_smithy_http_client::tls::TrustStore;
    if std::env::var_os("ATALAYA_AWS_SYSTEM_ROOTS").is_some() {
        return TrustStore::default();
    }
    TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AWS_ROOTS.as_bytes())
}

/// The SDK configuration every Atalaya client uses: rustls with ring (no aws-lc build) trusting
/// AWS's roots ([`trust_store`]), explicit retries (standard mode: throttling, 5xx and transport
/// errors retried with exponential backoff and jitter, 4 attempts), 5 s per attempt and 20 s
/// per operation. `endpoint` is for tests (moto_server).
pub async fn sdk_config(region: &str, endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut http = aws_smithy_http_client::Builder::new().tls_provider(
        aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ),
    );
    match aws_smithy_http_client::tls::TlsContext::builder()
        .with_trust_store(trust_store())
        .build()
    {
        Ok(tls) => http = http.tls_context(tls),
        Err(e) => tracing::error!(error = %e, "the AWS roots do not load: the system's are used"),
    }
    let http = http.build_https();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .http_client(http)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(4))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(20))
                .build(),
        );
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// JSON logs for Lambda, level from AWS_LAMBDA_LOG_LEVEL, else RUST_LOG, else info; `quiet`
/// directives (`hyper=warn`) hold whatever those say. Lambda stamps every line with its own time.
pub fn init_lambda_logging(quiet: &[&str]) {
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    for directive in quiet {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .without_time()
        .init();
}

/// The custom metrics the stacks pay for ($0.30 a month for each name and dimension value):
/// those an alarm watches. Every other value an EMF line carries stays a field of the log line
/// (CloudWatch Logs Insights reads it), which costs nothing more; `infra/check-consistency.py`
/// requires an alarm on each of these and `cost::floor` counts them.
pub const METRICS: &[&str] = &[
    "ChannelFailures",
    "ChecksFileRejected",
    "EvaluationFailures",
    "PingEndpointDown",
    "PingsFailed",
    "PublishFailures",
    "ResultsReceived",
    "RollupHoursPending",
    "SilentRegions",
    "SiteFailures",
    "StateItemBytes",
    "UnconfirmedSubscriptions",
];

/// A CloudWatch embedded-metric-format log line (namespace `Atalaya`): printed to stdout in a
/// Lambda function, CloudWatch turns the values named in `METRICS` into metrics; the others stay
/// fields of the log line. `dimensions` are name/value pairs (one dimension set); `metrics` are
/// name, unit and value. A line with no metric of `METRICS` is a plain JSON log line.
pub fn emf(
    timestamp_millis: i64,
    dimensions: &[(&str, &str)],
    metrics: &[(&str, &str, f64)],
) -> serde_json::Value {
    let mut line = serde_json::Map::new();
    let declared: Vec<_> = metrics
        .iter()
        .filter(|(name, _, _)| METRICS.contains(name))
        .map(|(name, unit, _)| serde_json::json!({"Name": name, "Unit": unit}))
        .collect();
    if !declared.is_empty() {
        line.insert(
            "_aws".into(),
            serde_json::json!({
                "Timestamp": timestamp_millis,
                "CloudWatchMetrics": [{
                    "Namespace": "Atalaya",
                    "Dimensions": [dimensions.iter().map(|(k, _)| *k).collect::<Vec<_>>()],
                    "Metrics": declared,
                }]
            }),
        );
    }
    for (k, v) in dimensions {
        line.insert((*k).into(), (*v).into());
    }
    for (name, _, value) in metrics {
        line.insert((*name).into(), (*value).into());
    }
    line.into()
}

/// An EMF line with the checks file's version the function runs (`ChecksVersion`: the published
/// version's id, or `packaged`), a log field `atalaya doctor` compares with the newest published
/// one.
pub fn with_checks_version(
    mut line: serde_json::Value,
    version: Option<String>,
) -> serde_json::Value {
    line["ChecksVersion"] = version.unwrap_or_else(|| "packaged".into()).into();
    line
}

/// The body of an HTTP API request (payload format 2.0), decoded when Lambda sent it in
/// base64; empty when there is none or it does not decode.
pub fn request_body(event: &serde_json::Value) -> Vec<u8> {
    use base64::Engine;
    let body = event["body"].as_str().unwrap_or("");
    if event["isBase64Encoded"].as_bool().unwrap_or(false) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_default()
    } else {
        body.as_bytes().to_vec()
    }
}

/// At most the first `max` bytes of an HTTP API request's body, decoding no more of it than
/// that: a body of megabytes costs no more than a small one (the rest is never decoded).
pub fn request_body_prefix(event: &serde_json::Value, max: usize) -> Vec<u8> {
    use base64::Engine;
    let body = event["body"].as_str().unwrap_or("");
    if event["isBase64Encoded"].as_bool().unwrap_or(false) {
        // Base64 in whole quanta of 4 characters: 3 bytes each.
        let chars = max.div_ceil(3).saturating_mul(4).min(body.len());
        let head = body.get(..chars).unwrap_or(body);
        let mut out = base64::engine::general_purpose::STANDARD
            .decode(head)
            .unwrap_or_default();
        out.truncate(max);
        out
    } else {
        let mut end = max.min(body.len());
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.as_bytes()[..end].to_vec()
    }
}

/// Whether an HTTP API request's body is over `max` bytes, told from its length as sent
/// (before decoding anything): such a request is refused at once.
pub fn request_body_over(event: &serde_json::Value, max: usize) -> bool {
    let body = event["body"].as_str().unwrap_or("");
    if event["isBase64Encoded"].as_bool().unwrap_or(false) {
        // The decoded length, from the encoded one and its padding.
        let pad = body.bytes().rev().take_while(|b| *b == b'=').count();
        (body.len() / 4 * 3).saturating_sub(pad) > max
    } else {
        body.len() > max
    }
}

/// A function's setting from its environment, or `default`.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// A variable a function cannot work without: its absence stops the function at init, named.
pub fn required(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{name} is not set: the stack must set it (infra/)"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_aws_roots_are_five_certificates_that_parse() {
        use rustls_pki_types::pem::PemObject;
        let certs: Vec<_> =
            rustls_pki_types::CertificateDer::pem_slice_iter(super::AWS_ROOTS.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
        assert_eq!(certs.len(), 5);
        let mut roots = rustls::RootCertStore::empty();
        let (valid, invalid) = roots.add_parsable_certificates(certs);
        assert_eq!((valid, invalid), (5, 0));
    }

    #[test]
    fn emf_lines_declare_each_metric_with_its_unit_and_dimensions() {
        let line = super::emf(
            1_700_000_000_000,
            &[("Function", "alert")],
            &[
                ("StateItemBytes", "Bytes", 1200.0),
                ("ChecksFileRejected", "Count", 0.0),
                ("AlertDuration", "Milliseconds", 8.5),
            ],
        );
        let declared = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "Atalaya");
        assert_eq!(declared["Dimensions"], serde_json::json!([["Function"]]));
        // Only what an alarm watches is a metric; the duration stays a field of the line.
        assert_eq!(
            declared["Metrics"],
            serde_json::json!([
                {"Name": "StateItemBytes", "Unit": "Bytes"},
                {"Name": "ChecksFileRejected", "Unit": "Count"}
            ])
        );
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(line["Function"], "alert");
        assert_eq!(line["StateItemBytes"], 1200.0);
        assert_eq!(line["AlertDuration"], 8.5);
        let versioned =
            super::with_checks_version(line.clone(), Some("3HL4kqtJlcpXroDTDmJ".into()));
        assert_eq!(versioned["ChecksVersion"], "3HL4kqtJlcpXroDTDmJ");
        assert_eq!(
            super::with_checks_version(line, None)["ChecksVersion"],
            "packaged"
        );
        // A line without any of them is a plain JSON log line.
        let plain = super::emf(
            1,
            &[("Region", "eu-west-1")],
            &[("ChecksRun", "Count", 3.0)],
        );
        assert!(plain.get("_aws").is_none(), "{plain}");
        assert_eq!(plain["ChecksRun"], 3.0);
    }

    #[test]
    fn a_body_is_refused_or_cut_from_its_length_as_sent() {
        use base64::Engine;
        let b64 = |bytes: &[u8]| {
            serde_json::json!({
                "body": base64::engine::general_purpose::STANDARD.encode(bytes),
                "isBase64Encoded": true
            })
        };
        let plain = |text: &str| serde_json::json!({ "body": text, "isBase64Encoded": false });
        for n in [0usize, 1, 2, 3, 4, 99, 100, 101, 6_000_000] {
            let bytes: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            assert_eq!(super::request_body_over(&b64(&bytes), 100), n > 100, "{n}");
            let head = super::request_body_prefix(&b64(&bytes), 100);
            assert_eq!(head, bytes[..n.min(100)], "{n}");
        }
        assert!(super::request_body_over(&plain(&"x".repeat(101)), 100));
        assert!(!super::request_body_over(&plain(&"x".repeat(100)), 100));
        // Cut at a character boundary, never inside one.
        assert_eq!(super::request_body_prefix(&plain("aé"), 2), b"a");
    }
}
