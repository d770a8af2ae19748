//! End to end on moto: probe functions in three regions, the results table's real stream, the
//! alert function, SNS, filtered SQS queues.

use super::*;
use atalaya_alert_fn::{handle as alert, results_of, Deps};
use atalaya_probe_fn::{handle as probe, ProbeEvent};
use aws_sdk_dynamodbstreams::types::{AttributeValue as StreamValue, ShardIteratorType};

/// The results table's stream, read back through moto's DynamoDB Streams API and shaped as
/// Lambda delivers it to the alert function.
pub(super) async fn stream_batch(
    config: &aws_config::SdkConfig,
    table: &str,
) -> aws_lambda_events::event::dynamodb::Event {
    let arn = aws_sdk_dynamodb::Client::new(config)
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap()
        .latest_stream_arn
        .unwrap();
    let streams = aws_sdk_dynamodbstreams::Client::new(config);
    let description = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap();
    let mut records = Vec::new();
    for shard in description.shards() {
        let iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id().unwrap())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator
            .unwrap();
        let out = streams
            .get_records()
            .shard_iterator(iterator)
            .send()
            .await
            .unwrap();
        for r in out.records() {
            let d = r.dynamodb().unwrap();
            let image =
                |m: Option<&std::collections::HashMap<String, StreamValue>>| -> serde_json::Value {
                    m.into_iter()
                    .flatten()
                    .map(|(k, v)| {
                        let v = match v {
                            StreamValue::S(s) => serde_json::json!({ "S": s }),
                            StreamValue::N(n) => serde_json::json!({ "N": n }),
                            StreamValue::B(b) => serde_json::json!({ "B": aws_smithy_types::base64::encode(b.as_ref()) }),
                            other => panic!("unexpected attribute {other:?}"),
                        };
                        (k.clone(), v)
                    })
                    .collect::<serde_json::Map<_, _>>()
                    .into()
                };
            records.push(serde_json::json!({
                "eventID": r.event_id().unwrap_or_default(),
                "eventName": r.event_name().map(|n| n.as_str().to_string()).unwrap_or_default(),
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "eu-west-1",
                "eventSourceARN": arn,
                "dynamodb": {
                    "Keys": image(d.keys.as_ref()),
                    "NewImage": image(d.new_image.as_ref()),
                    "SequenceNumber": d.sequence_number().unwrap_or_default(),
                    "SizeBytes": d.size_bytes().unwrap_or_default(),
                    "StreamViewType": "NEW_IMAGE"
                }
            }));
        }
    }
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

#[tokio::test]
async fn three_probe_regions_through_the_real_stream_to_the_alert_function_and_sns() {
    let target = atalaya_tests::http::server(None).await;
    let c = checks(&format!(
        "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  allow_networks: [127.0.0.0/8]
  defaults: {{ interval: 1m, timeout: 5s, retries: 1, recover_after: 1 }}
customers:
  - {{ id: acme, name: ACME Corp, language: es }}
  - {{ id: globex, name: Globex }}
services:
  - {{ id: shop, customer: acme, name: Tienda online }}
  - {{ id: portal, customer: globex, name: Portal }}
checks:
  - {{ id: shop-home, service: shop, http: {{ url: 'http://{target}/500' }} }}
  - {{ id: portal-home, service: portal, http: {{ url: 'http://{target}/ok' }} }}
"
    ));
    let config = &c.config;
    let m = moto().await;
    let acme_q = m
        .queue("acme", &m.cust_topic, Some(r#"{"customer": ["acme"]}"#))
        .await;
    let globex_q = m
        .queue("globex", &m.cust_topic, Some(r#"{"customer": ["globex"]}"#))
        .await;
    let ops_q = m.queue("ops", &m.ops_topic, None).await;
    let s = store().await;
    let engine = atalaya_tests::engine(None);

    let now = chrono::Utc::now();
    for region in ["eu-west-1", "us-east-1", "ap-southeast-2"] {
        let event = ProbeEvent {
            region: region.into(),
            shard: 0,
            shards: 1,
        };
        probe(
            event,
            config,
            &engine,
            &s,
            now,
            Instant::now() + Duration::from_secs(20),
        )
        .await
        .unwrap();
    }
    let sdk = atalaya_tests::moto::sdk_config().await;
    let batch = stream_batch(&sdk, &s.tables().results).await;
    let (results, first) = results_of(&batch);
    assert_eq!(results.len(), 6, "two checks in three regions");

    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&m.sns],
        site: None::<&atalaya_app::status_site::Folder>,
    };
    let out = alert(
        &deps,
        &results,
        first.clone(),
        now + chrono::TimeDelta::seconds(5),
    )
    .await;
    assert_eq!(
        (out.events, out.published, out.batch_item_failures.len()),
        (2, 2, 0),
        "{out:?}"
    );
    // Lambda delivers the batch again (a retry): nothing new is said.
    let again = alert(&deps, &results, first, now + chrono::TimeDelta::seconds(6)).await;
    assert_eq!((again.events, again.published), (0, 0));

    let acme = m.drain(&acme_q).await;
    assert_eq!(acme.len(), 1);
    assert_eq!(
        acme[0]["Subject"],
        "Tienda online: nuevo problema, estamos trabajando en ello"
    );
    assert!(
        m.drain(&globex_q).await.is_empty(),
        "globex's portal is fine, and acme's outage is not theirs"
    );
    let ops = m.drain(&ops_q).await;
    assert_eq!(ops.len(), 1);
    assert!(ops[0]["Message"]
        .as_str()
        .unwrap()
        .contains("status 500, expected 2xx"));
}
