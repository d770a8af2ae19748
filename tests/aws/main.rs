//! Atalaya on AWS, against moto_server: the DynamoDB adapter, SNS, the functions, end to end,
//! faults and cost. One file per theme; the fixtures they share are here.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod acknowledge;
mod alert;
mod cost;
mod dynamodb;
mod end_to_end;
mod faults;
mod mailer;
mod overlay;
mod partitions;
mod ping_fn;
mod probe_fn;
mod rollup_job;
mod sns;
mod status_site;
mod story;
mod subscribers;
mod truth;
mod unconfirmed;

use atalaya_app::Checks;
use atalaya_core::evaluate::{Audience, State};
use atalaya_core::{Message, Outcome, Phases, ProbeResult, Reason};
use atalaya_notify::SnsChannel;
use atalaya_store::{DynamoStore, Store, StoreError, Tables, Versioned};
use std::time::{Duration, Instant};

/// The moto fixture every SNS test starts from: SDK clients, an operators and a customers
/// topic under a fresh prefix, and the SNS channel publishing to them.
pub struct Moto {
    pub prefix: String,
    pub sns_client: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub ops_topic: String,
    pub cust_topic: String,
    pub sns: SnsChannel,
}

pub async fn moto() -> Moto {
    let sdk = atalaya_tests::moto::sdk_config().await;
    let prefix = atalaya_tests::moto::unique_prefix();
    let (ops_topic, cust_topic) = atalaya_tests::moto::topics(&prefix).await;
    let sns = SnsChannel::connect(
        "eu-west-1",
        Some(&atalaya_tests::moto::endpoint()),
        ops_topic.clone(),
        cust_topic.clone(),
    )
    .await;
    Moto {
        prefix,
        sns_client: aws_sdk_sns::Client::new(&sdk),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        ops_topic,
        cust_topic,
        sns,
    }
}

impl Moto {
    /// An SQS queue subscribed to `topic`, with an optional filter policy; its URL.
    pub async fn queue(&self, name: &str, topic: &str, filter: Option<&str>) -> String {
        let url = self
            .sqs
            .create_queue()
            .queue_name(format!("{}{name}", self.prefix))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        let mut sub = self
            .sns_client
            .subscribe()
            .topic_arn(topic)
            .protocol("sqs")
            .endpoint(arn);
        if let Some(f) = filter {
            sub = sub.attributes("FilterPolicy", f);
        }
        sub.send().await.unwrap();
        url
    }

    /// Everything the queue holds now, as SNS delivered it (the JSON envelope).
    pub async fn drain(&self, url: &str) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let batch = got.messages.unwrap_or_default();
            if batch.is_empty() {
                return out;
            }
            for m in batch {
                out.push(serde_json::from_str(m.body.as_deref().unwrap()).unwrap());
            }
        }
    }
}

/// The `event` attribute of each delivered message.
pub fn events(delivered: &[serde_json::Value]) -> Vec<String> {
    delivered
        .iter()
        .map(|e| {
            e["MessageAttributes"]["event"]["Value"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// A checks file for Lambda, with the built-in templates.
pub fn checks(text: &str) -> Checks {
    Checks::from_text(
        text,
        "checks.yaml",
        std::path::Path::new("."),
        atalaya_core::Target::Lambda,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn store() -> DynamoStore {
    atalaya_tests::moto::store().await.0
}

fn result(i: i64) -> ProbeResult {
    ProbeResult {
        check: "shop-home".into(),
        region: "eu-west-1".into(),
        at: "2026-11-24T10:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            + chrono::TimeDelta::seconds(i),
        outcome: Outcome::Up,
        reason: Reason::Ok,
        detail: "status 200 OK".into(),
        latency_ms: 12.0,
        phases: Phases::default(),
        http_status: Some(200),
        cert_days_left: None,
    }
}

fn message(id: &str, second: i64) -> Message {
    Message {
        id: id.into(),
        at: "2026-11-24T10:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            + chrono::TimeDelta::seconds(second),
        topic: Audience::Customers,
        subject: "Tienda online: estamos resolviendo un problema".into(),
        body: "Hola".into(),
        attributes: atalaya_core::message::Tags::new(
            atalaya_core::evaluate::Audience::Operators,
            atalaya_core::evaluate::EventKind::Opened,
            atalaya_core::evaluate::Severity::Critical,
            atalaya_core::Language::En,
        ),
        digest: None,
        details: None,
        translations: Default::default(),
        incident_times: None,
    }
}
