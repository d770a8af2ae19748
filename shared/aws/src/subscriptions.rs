//! Who hears the alarms: the operators' email subscriptions to the stacks' topics (the home
//! region's operators topic, each probe region's alarms topic). One that was never confirmed
//! delivers nothing, and AWS forgets it after 48 hours: alarms then go to nobody. The alert
//! function counts them every hour (`UnconfirmedSubscriptions`, alarmed) and `atalaya doctor`
//! names them.

use std::time::Duration;

/// At most this many pages of 100 subscriptions are read per topic (a bound, not a limit
/// anyone reaches: a topic has one subscription per operator).
const MAX_PAGES: usize = 20;

/// A topic's subscriptions, as they stand.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscriptions {
    /// The endpoints (email addresses) that confirmed.
    pub confirmed: Vec<String>,
    /// Those still waiting for their confirmation.
    pub pending: Vec<String>,
}

/// The topics an installation's operators are subscribed to: `operators_topic` (home) and, for
/// each probe region (its name and the AWS region its stack is in: the same for a public one, not
/// for a private location), `<prefix>alarms-<name>` of the same account (the probe stacks' names).
pub fn topics(operators_topic: &str, probe_regions: &[(String, String)]) -> Vec<String> {
    let mut out = vec![operators_topic.to_string()];
    // arn:<partition>:sns:<region>:<account>:<prefix>operators
    let parts: Vec<&str> = operators_topic.splitn(6, ':').collect();
    if let [arn, partition, sns, _, account, name] = parts[..] {
        if let Some(prefix) = name.strip_suffix("operators") {
            for (name, aws) in probe_regions {
                out.push(format!(
                    "{arn}:{partition}:{sns}:{aws}:{account}:{prefix}alarms-{name}"
                ));
            }
        }
    }
    out
}

/// The region of a topic's ARN.
pub fn region_of(topic: &str) -> Option<&str> {
    topic.split(':').nth(3).filter(|r| !r.is_empty())
}

/// Reads `topic`'s subscriptions, page by page, each call bounded by the SDK's timeouts and the
/// whole by `within`.
pub async fn of_topic(
    client: &aws_sdk_sns::Client,
    topic: &str,
    within: Duration,
) -> Result<Subscriptions, String> {
    let read = async {
        let mut out = Subscriptions::default();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = client
                .list_subscriptions_by_topic()
                .topic_arn(topic)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| format!("{topic}: {}", crate::detail(&e)))?;
            for s in page.subscriptions() {
                let endpoint = s.endpoint().unwrap_or("?").to_string();
                if s.subscription_arn() == Some("PendingConfirmation") {
                    out.pending.push(endpoint);
                } else {
                    out.confirmed.push(endpoint);
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
        Ok(out)
    };
    tokio::time::timeout(within, read)
        .await
        .map_err(|_| format!("{topic}: no answer within {}s", within.as_secs()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_regions_topics_are_named_from_the_operators_topic() {
        let here = |r: &str| (r.to_string(), r.to_string());
        let private = ("vpc-prod".to_string(), "eu-west-1".to_string());
        let t = topics(
            "arn:aws:sns:eu-west-1:123456789012:atalaya-operators",
            &[here("eu-west-1"), here("us-east-1"), private],
        );
        assert_eq!(
            t,
            [
                "arn:aws:sns:eu-west-1:123456789012:atalaya-operators",
                "arn:aws:sns:eu-west-1:123456789012:atalaya-alarms-eu-west-1",
                "arn:aws:sns:us-east-1:123456789012:atalaya-alarms-us-east-1",
                "arn:aws:sns:eu-west-1:123456789012:atalaya-alarms-vpc-prod",
            ]
        );
        assert_eq!(region_of(&t[2]), Some("us-east-1"));
        // A topic not named as the stacks name it: only itself.
        assert_eq!(
            topics("arn:aws:sns:eu-west-1:1:ops", &[here("us-east-1")]).len(),
            1
        );
        assert_eq!(topics("not an arn", &[]), ["not an arn"]);
    }
}
