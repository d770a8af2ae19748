//! Every hour, the operators' subscriptions that were never confirmed: an email subscription
//! nobody confirmed delivers nothing, so the alarms it was for go to nobody
//! (`UnconfirmedSubscriptions`, alarmed `operators-unconfirmed`; `atalaya doctor` names them).

use atalaya_aws::subscriptions::{of_topic, region_of, topics};
use chrono::{DateTime, Timelike, Utc};
use std::time::Duration;

/// How long the hourly count may take, every topic together.
const WITHIN: Duration = Duration::from_secs(10);

/// Whether this tick counts (the first minute of each hour).
pub fn due(now: DateTime<Utc>) -> bool {
    now.minute() == 0
}

/// The unconfirmed subscriptions of the operators topic and each probe region's alarms topic
/// (`probe_regions`: each one's name and the AWS region of its stack);
/// `None` when none of the topics could be read (logged: the alarm keeps its state).
pub async fn unconfirmed(
    sdk: &aws_config::SdkConfig,
    operators_topic: &str,
    probe_regions: &[(String, String)],
) -> Option<u32> {
    let mut counted = None;
    for topic in topics(operators_topic, probe_regions) {
        let mut conf = aws_sdk_sns::config::Builder::from(sdk);
        if let Some(r) = region_of(&topic) {
            conf = conf.region(aws_config::Region::new(r.to_string()));
        }
        let client = aws_sdk_sns::Client::from_conf(conf.build());
        match of_topic(&client, &topic, WITHIN).await {
            Ok(s) => {
                for who in &s.pending {
                    tracing::warn!(topic = %topic, endpoint = %who, "an operator never confirmed the subscription: alarms on this topic do not reach them");
                }
                *counted.get_or_insert(0) += s.pending.len() as u32;
            }
            Err(e) => tracing::error!(error = %e, "cannot count the unconfirmed subscriptions"),
        }
    }
    counted
}

/// Its EMF line.
pub fn emf(unconfirmed: u32, now: DateTime<Utc>) -> serde_json::Value {
    atalaya_aws::emf(
        now.timestamp_millis(),
        &[("Function", "alert")],
        &[("UnconfirmedSubscriptions", "Count", f64::from(unconfirmed))],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_once_an_hour_as_a_metric() {
        let at = |m| {
            DateTime::parse_from_rfc3339(&format!("2026-12-07T10:{m:02}:00Z"))
                .unwrap()
                .with_timezone(&Utc)
        };
        assert!(due(at(0)));
        assert!(!due(at(1)) && !due(at(59)));
        let line = emf(2, at(0));
        assert_eq!(line["UnconfirmedSubscriptions"], 2.0);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "UnconfirmedSubscriptions"
        );
    }
}
