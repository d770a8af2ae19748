//! Subscribers and mail records in SQLite.

use super::{ts, SqliteStore};
use crate::{StoreError, Subscribers};
use atalaya_core::email::Subscriber;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use std::time::Duration;

impl Subscribers for SqliteStore {
    async fn subscribers(&self, customer: Option<&str>) -> Result<Vec<Subscriber>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT subscriber FROM subscribers WHERE ?1 IS NULL OR customer = ?1
             ORDER BY customer, email",
        )?;
        let rows = stmt.query_map(params![customer], |r| r.get::<_, String>(0))?;
        rows.map(|json| Ok(serde_json::from_str(&json?)?)).collect()
    }

    async fn subscriber(&self, id: &str) -> Result<Option<Subscriber>, StoreError> {
        let json: Option<String> = self
            .conn()
            .query_row(
                "SELECT subscriber FROM subscribers WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?;
        json.map(|j| Ok(serde_json::from_str(&j)?)).transpose()
    }

    async fn put_subscriber(&self, s: &Subscriber) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO subscribers (id, customer, email, subscriber) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET customer = excluded.customer,
             email = excluded.email, subscriber = excluded.subscriber",
            params![s.id, s.customer, s.email, serde_json::to_string(s)?],
        )?;
        Ok(())
    }

    async fn remove_subscriber(&self, id: &str) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute("DELETE FROM subscribers WHERE id = ?1", params![id])?;
        Ok(n == 1)
    }

    async fn claim_mail(
        &self,
        key: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let until = now + chrono::TimeDelta::from_std(lease).unwrap_or_default();
        let n = self.conn().execute(
            "INSERT INTO mails (key, claimed_until) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET claimed_until = excluded.claimed_until
             WHERE mails.sent_at IS NULL
               AND (mails.claimed_until IS NULL OR mails.claimed_until < ?3)",
            params![key, until.timestamp_millis(), now.timestamp_millis()],
        )?;
        Ok(n == 1)
    }

    async fn mail_sent(&self, key: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE mails SET sent_at = ?1, claimed_until = NULL WHERE key = ?2",
            params![ts(Utc::now()), key],
        )?;
        Ok(())
    }

    async fn release_mail(&self, key: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE mails SET claimed_until = NULL WHERE key = ?1 AND sent_at IS NULL",
            params![key],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atalaya_core::email::{SubscriberState, Subscription};

    #[tokio::test]
    async fn subscribers_are_kept_listed_per_customer_and_removed() {
        let s = SqliteStore::in_memory().unwrap_or_else(|e| panic!("{e}"));
        let now = Utc::now();
        let a = Subscriber::new(
            "acme",
            "b@acme.example",
            None,
            Subscription::All,
            false,
            now,
        );
        let mut b = Subscriber::new("acme", "a@acme.example", None, Subscription::All, true, now);
        let c = Subscriber::new(
            "globex",
            "a@globex.example",
            None,
            Subscription::All,
            true,
            now,
        );
        for x in [&a, &b, &c] {
            s.put_subscriber(x).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let acme = s.subscribers(Some("acme")).await.unwrap_or_default();
        assert_eq!(acme, [b.clone(), a.clone()], "by address");
        assert_eq!(s.subscribers(None).await.unwrap_or_default().len(), 3);
        b.state = SubscriberState::Unsubscribed;
        s.put_subscriber(&b).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.subscriber(&b.id).await.ok().flatten(), Some(b.clone()));
        assert!(s.remove_subscriber(&b.id).await.unwrap_or(false));
        assert!(!s.remove_subscriber(&b.id).await.unwrap_or(true));
        assert_eq!(s.subscriber(&b.id).await.ok().flatten(), None);
    }

    #[tokio::test]
    async fn a_mail_is_claimed_by_one_sender_and_never_sent_twice() {
        let s = SqliteStore::in_memory().unwrap_or_else(|e| panic!("{e}"));
        let now = Utc::now();
        let lease = Duration::from_secs(60);
        assert!(s.claim_mail("m1#sub-1", now, lease).await.unwrap_or(false));
        assert!(
            !s.claim_mail("m1#sub-1", now, lease).await.unwrap_or(true),
            "held"
        );
        s.release_mail("m1#sub-1")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            s.claim_mail("m1#sub-1", now, lease).await.unwrap_or(false),
            "given back"
        );
        // A claim left by a sender that died expires.
        let later = now + chrono::TimeDelta::seconds(61);
        assert!(s
            .claim_mail("m1#sub-1", later, lease)
            .await
            .unwrap_or(false));
        s.mail_sent("m1#sub-1")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let much_later = now + chrono::TimeDelta::days(1);
        assert!(
            !s.claim_mail("m1#sub-1", much_later, lease)
                .await
                .unwrap_or(true),
            "sent"
        );
    }
}
