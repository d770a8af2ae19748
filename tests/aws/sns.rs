//! SNS topics with SQS subscriptions and filter policies on moto.

use super::*;
use std::collections::BTreeMap;

fn msg(id: &str, topic: Audience, attrs: &[(&str, &str)], subject: &str) -> Message {
    Message {
        id: id.into(),
        at: "2026-11-24T10:00:00Z".parse().unwrap(),
        topic,
        subject: subject.into(),
        body: format!("body of {id}"),
        attributes: {
            let mut pairs: BTreeMap<String, String> = [
                ("audience", topic.as_str()),
                ("event", "opened"),
                ("severity", "info"),
                ("language", "en"),
            ]
            .into_iter()
            .chain(attrs.iter().copied())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            pairs.remove("id");
            atalaya_core::message::Tags::from_pairs(&pairs).unwrap()
        },
        digest: None,
        details: None,
        translations: Default::default(),
        incident_times: None,
    }
}

#[tokio::test]
async fn subscribers_receive_only_what_their_filter_policy_asks_for() {
    let m = moto().await;
    // A customer's email: only that customer's services. An on-call phone: only critical.
    let acme = m
        .queue("acme", &m.cust_topic, Some(r#"{"customer": ["acme"]}"#))
        .await;
    let oncall = m
        .queue(
            "oncall",
            &m.ops_topic,
            Some(r#"{"severity": ["critical"]}"#),
        )
        .await;
    let all_ops = m.queue("ops", &m.ops_topic, None).await;
    let messages = [
        msg(
            "inc-1/1/opened",
            Audience::Operators,
            &[
                ("severity", "warning"),
                ("customer", "acme"),
                ("event", "opened"),
            ],
            "[OPENED] shop",
        ),
        msg(
            "inc-1/2/opened/shop",
            Audience::Customers,
            &[
                ("customer", "acme"),
                ("service", "shop"),
                ("language", "es"),
            ],
            "Envío: problema en la tienda",
        ),
        msg(
            "inc-2/2/opened/portal",
            Audience::Customers,
            &[("customer", "globex"), ("service", "portal")],
            "Portal: a problem",
        ),
        msg(
            "inc-1/3/escalated",
            Audience::Operators,
            &[
                ("severity", "critical"),
                ("customer", "acme"),
                ("event", "escalated"),
            ],
            "[ESCALATED] shop",
        ),
        msg(
            "inc-1/4/resolved/shop",
            Audience::Customers,
            &[("customer", "acme"), ("service", "shop")],
            "Tienda: resuelto",
        ),
    ];
    for message in &messages {
        m.sns.publish(message).await.unwrap();
    }
    let acme_got = m.drain(&acme).await;
    let subjects: Vec<&str> = acme_got
        .iter()
        .map(|e| e["Subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        ["Envio: problema en la tienda", "Tienda: resuelto"],
        "only acme's, email-safe"
    );
    let attrs: BTreeMap<&str, &str> = acme_got[0]["MessageAttributes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v["Value"].as_str().unwrap()))
        .collect();
    assert_eq!(attrs.get("service"), Some(&"shop"));
    assert_eq!(
        m.drain(&oncall).await.len(),
        1,
        "only the critical escalation"
    );
    assert_eq!(m.drain(&all_ops).await.len(), 2);
}
