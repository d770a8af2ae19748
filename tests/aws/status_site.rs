//! Rollups and the status site as the alert function keeps them on AWS: a scripted hour and a
//! half of results through the handler (state in partitions on DynamoDB), an outage, an absence
//! of the evaluator; the hours land in the state table, the site in an S3 bucket (objects,
//! content types, cache headers, only what changed written, the manifest out of CloudFront's
//! reach).

use super::alert::at_regions;
use super::*;
use atalaya_alert_fn::{handle, Deps};
use atalaya_app::status_site::S3Site;
use atalaya_store::Rollups;
use chrono::{DurationRound, TimeDelta, Utc};

fn two_services() -> Checks {
    checks(
        "settings:
  regions: [eu-west-1, us-east-1, ap-southeast-2]
  defaults: { interval: 1m, timeout: 10s, retries: 1, recover_after: 1 }
customers:
  - { id: acme, name: ACME Corp, language: es, status_page: { slug: acme-7f3k9q } }
services:
  - { id: shop, customer: acme, name: Tienda, public: true }
  - { id: blog, customer: acme, name: Blog }
checks:
  - { id: shop-home, service: shop, http: { url: 'https://shop.acme.example/' } }
  - { id: blog-home, service: blog, http: { url: 'https://blog.acme.example/' } }
",
    )
}

async fn bucket(prefix: &str) -> (aws_sdk_s3::Client, String) {
    let name = format!("{}site", prefix.trim_end_matches('-'));
    (atalaya_tests::moto::bucket(&name).await, name)
}

async fn keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    s3.list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .contents
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| o.key)
        .collect()
}

#[tokio::test]
async fn the_alert_function_keeps_hours_and_publishes_only_what_changed() {
    let c = two_services();
    let m = moto().await;
    let s = store().await.with_partitions(4);
    let (s3, name) = bucket(&m.prefix).await;
    let site = S3Site::new(s3.clone(), &name);
    let deps = Deps {
        checks: &c,
        store: &s,
        channels: &[&m.sns],
        site: Some(&site),
    };
    // From 40 minutes before an hour to 70 after it (hours that ended before the real now).
    let hour = (Utc::now() - TimeDelta::hours(3))
        .duration_trunc(TimeDelta::hours(1))
        .unwrap();
    let start = hour - TimeDelta::minutes(40);
    let mut written = Vec::new();
    for minute in 0..110 {
        // From 00:50 to 01:00 of the hour the evaluator does not run at all.
        if (90..100).contains(&minute) {
            continue;
        }
        let now = start + TimeDelta::minutes(minute) + TimeDelta::seconds(30);
        let shop_down = (45..55).contains(&minute); // 00:05-00:15 of the hour
        let mut results = at_regions(
            "shop-home",
            now - TimeDelta::seconds(20),
            if shop_down {
                Outcome::Down
            } else {
                Outcome::Up
            },
        );
        results.extend(at_regions(
            "blog-home",
            now - TimeDelta::seconds(20),
            Outcome::Up,
        ));
        let batch = handle(&deps, &results, None, now).await;
        assert!(!batch.evaluation_failed && !batch.site_failed, "{batch:?}");
        let tick = handle(&deps, &[], None, now + TimeDelta::seconds(5)).await;
        assert!(!tick.evaluation_failed && !tick.site_failed, "{tick:?}");
        written.push((minute, batch.site_objects + tick.site_objects));
    }

    // The hour, from the state table: the outage down (from the evaluation that saw it to the
    // one that saw it back), the rest up; the evaluator's absence unknown, never up.
    let h = s
        .service_hours("shop", hour, hour + TimeDelta::hours(1))
        .await
        .unwrap();
    let shop = h[&hour];
    let min = 60_000;
    assert_eq!(shop.down, 10 * min, "{shop:?}");
    // From the last tick before the absence (00:49:35) to the end of the hour.
    assert_eq!(shop.unknown, 10 * min + 25_000, "{shop:?}");
    assert_eq!(shop.total(), 60 * min, "{shop:?}");
    let blog = s
        .service_hours("blog", hour, hour + TimeDelta::hours(1))
        .await
        .unwrap()[&hour];
    assert_eq!(blog.down, 0);
    assert_eq!(blog.unknown, shop.unknown);
    // The hour before, from the first evaluation (at 23:20:30 of it): all up.
    let before = s
        .service_hours("shop", hour - TimeDelta::hours(1), hour)
        .await
        .unwrap();
    let before = before[&(hour - TimeDelta::hours(1))];
    assert_eq!(
        (before.up, before.total()),
        (39 * min + 30_000, 39 * min + 30_000)
    );

    // The site: pages, API, feed, badges and assets under site/, the manifest under state/.
    let all = keys(&s3, &name).await;
    for k in [
        "site/acme-7f3k9q/index.html",
        "site/acme-7f3k9q/index.en.html",
        "site/acme-7f3k9q/api/v2/summary.json",
        "site/acme-7f3k9q/history.atom",
        "site/acme-7f3k9q/badges/shop.svg",
        "site/index.html",
        "state/site.json",
    ] {
        assert!(all.contains(&k.to_string()), "{k} not in {all:?}");
    }
    assert!(
        all.iter()
            .all(|k| k.starts_with("site/") || k == "state/site.json"),
        "{all:?}"
    );
    let head = |k: &str| {
        let s3 = s3.clone();
        let (bucket, k) = (name.clone(), k.to_string());
        async move { s3.head_object().bucket(bucket).key(k).send().await.unwrap() }
    };
    let page = head("site/acme-7f3k9q/index.html").await;
    assert_eq!(page.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(page.cache_control(), Some("public, max-age=60"));
    let css = all.iter().find(|k| k.ends_with(".css")).unwrap();
    let asset = head(css).await;
    assert_eq!(
        asset.cache_control(),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        head("site/acme-7f3k9q/history.atom").await.content_type(),
        Some("application/atom+xml; charset=utf-8")
    );
    // The first publish wrote everything; later ones only what changed (never the assets
    // again); a minute that changed no page wrote live.json alone (the monitor's last report,
    // to the minute: "last checked" on the pages).
    let total = all.len() - 1;
    let first = written.iter().find(|(_, n)| *n > 0).unwrap();
    assert_eq!(first.1, total, "{written:?}");
    let later: Vec<_> = written
        .iter()
        .filter(|(m, n)| *m > first.0 && *n > 0)
        .collect();
    assert!(
        !later.is_empty(),
        "the outage and the hour changed the site: {written:?}"
    );
    assert!(later.iter().all(|(_, n)| *n < total - 3), "{written:?}");
    assert!(
        written.iter().filter(|(_, n)| *n <= 1).count() > 80,
        "{written:?}"
    );
    let live = head("site/live.json").await;
    assert_eq!(live.cache_control(), Some("no-cache, max-age=0"));
    assert_eq!(live.content_type(), Some("application/json"));
    // The page says what the monitor saw last: the shop working again.
    let body = s3
        .get_object()
        .bucket(&name)
        .key("site/acme-7f3k9q/api/v2/summary.json")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let summary: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(summary["components"][0]["id"], "shop");
    // Read from the partitions the alert function keeps: what the monitor last saw.
    assert_eq!(
        summary["components"][0]["status"], "operational",
        "{summary}"
    );
    assert_eq!(
        summary["components"][1]["status"], "operational",
        "{summary}"
    );
    assert_eq!(summary["status"]["indicator"], "none", "{summary}");
    assert_eq!(summary["page"]["time_zone"], "UTC");
}
