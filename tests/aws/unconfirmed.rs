//! Operators who never confirmed their email subscription hear no alarm: the alert function
//! counts them each hour, on the operators topic and on each probe region's alarms topic,
//! against a fake SNS that speaks the Query protocol (moto confirms every subscription).

use atalaya_tests::fake_sns::FakeSns;

const OPERATORS: &str = "arn:aws:sns:eu-west-1:123456789012:atalaya-operators";

#[tokio::test]
async fn unconfirmed_operators_are_counted_on_every_topic_page_by_page() {
    let sns = FakeSns::start(2).await;
    sns.topic(
        OPERATORS,
        &[
            ("oncall@example.com", true),
            ("lead@example.com", false),
            ("ana@example.com", true),
        ],
    );
    sns.topic(
        "arn:aws:sns:eu-west-1:123456789012:atalaya-alarms-eu-west-1",
        &[("oncall@example.com", true), ("lead@example.com", false)],
    );
    // us-east-1's probe stack is not deployed yet: its topic is not there.
    let _credentials = atalaya_tests::moto::endpoint(); // sets the test credentials the SDK needs
    let sdk = atalaya_aws::sdk_config("eu-west-1", Some(&sns.url())).await;
    let regions = [
        ("eu-west-1".to_string(), "eu-west-1".to_string()),
        ("us-east-1".to_string(), "us-east-1".to_string()),
    ];
    let n = atalaya_alert_fn::subscriptions::unconfirmed(&sdk, OPERATORS, &regions).await;
    assert_eq!(n, Some(2), "{:?}", sns.requests());
    // The operators topic was read in two pages, the second from the first's NextToken.
    let asked: Vec<(String, Option<String>)> = sns
        .requests()
        .into_iter()
        .map(|r| (r["TopicArn"].clone(), r.get("NextToken").cloned()))
        .collect();
    assert!(asked.contains(&(OPERATORS.into(), None)), "{asked:?}");
    assert!(
        asked.contains(&(OPERATORS.into(), Some("2".into()))),
        "{asked:?}"
    );
    assert!(asked
        .iter()
        .any(|(t, _)| t == "arn:aws:sns:us-east-1:123456789012:atalaya-alarms-us-east-1"));
    // The metric the alarm watches.
    let line = atalaya_alert_fn::subscriptions::emf(2, chrono::Utc::now());
    assert_eq!(line["UnconfirmedSubscriptions"], 2.0);

    // All confirmed: zero, which clears the alarm.
    sns.topic(OPERATORS, &[("oncall@example.com", true)]);
    sns.topic(
        "arn:aws:sns:eu-west-1:123456789012:atalaya-alarms-eu-west-1",
        &[],
    );
    let n = atalaya_alert_fn::subscriptions::unconfirmed(&sdk, OPERATORS, &regions).await;
    assert_eq!(n, Some(0));

    // Nothing readable: no figure at all (the alarm keeps its state), never a reassuring 0.
    let none = atalaya_alert_fn::subscriptions::unconfirmed(
        &sdk,
        "arn:aws:sns:eu-west-1:123456789012:other-operators",
        &[("ap-southeast-2".to_string(), "ap-southeast-2".to_string())],
    )
    .await;
    assert_eq!(none, None);
}
