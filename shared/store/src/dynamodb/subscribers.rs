//! Subscribers and mail records in the subscribers table: a subscriber is `pk = sub-…` with its
//! customer and address (the `by_customer` index lists a customer's, by address); the sending
//! of a mail is `pk = mail#<message>#<subscriber>`, claimed with a conditional write and kept
//! 30 days (`expires`) — longer than any redelivery of a message.

use super::{get_s, s, sdk, DynamoStore};
use crate::{StoreError, Subscribers};
use atalaya_core::email::Subscriber;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;

/// How long a mail record is kept.
const MAIL_RECORD_DAYS: i64 = 30;

fn mail_pk(key: &str) -> String {
    format!("mail#{key}")
}

fn decode(item: &HashMap<String, AttributeValue>) -> Result<Subscriber, StoreError> {
    Ok(serde_json::from_str(get_s(item, "subscriber")?)?)
}

impl Subscribers for DynamoStore {
    async fn subscribers(&self, customer: Option<&str>) -> Result<Vec<Subscriber>, StoreError> {
        let items = match customer {
            Some(c) => self
                .client
                .query()
                .table_name(&self.tables.subscribers)
                .index_name("by_customer")
                .key_condition_expression("customer = :c")
                .expression_attribute_values(":c", s(c))
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| sdk("list subscribers", e))?,
            None => self
                .client
                .scan()
                .table_name(&self.tables.subscribers)
                .filter_expression("begins_with(pk, :p)")
                .expression_attribute_values(":p", s("sub-"))
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| sdk("list subscribers", e))?,
        };
        let mut out: Vec<Subscriber> = items.iter().map(decode).collect::<Result<_, _>>()?;
        out.sort_by(|a, b| (&a.customer, &a.email).cmp(&(&b.customer, &b.email)));
        Ok(out)
    }

    async fn subscriber(&self, id: &str) -> Result<Option<Subscriber>, StoreError> {
        if !id.starts_with("sub-") {
            return Ok(None);
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.subscribers)
            .key("pk", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("read subscriber", e))?;
        out.item.as_ref().map(decode).transpose()
    }

    async fn put_subscriber(&self, sub: &Subscriber) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.subscribers)
            .item("pk", s(sub.id.clone()))
            .item("customer", s(sub.customer.clone()))
            .item("email", s(sub.email.to_lowercase()))
            .item("subscriber", s(serde_json::to_string(sub)?))
            .send()
            .await
            .map_err(|e| sdk("write subscriber", e))?;
        Ok(())
    }

    async fn remove_subscriber(&self, id: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.tables.subscribers)
            .key("pk", s(id))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk("remove subscriber", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn claim_mail(
        &self,
        key: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let until = now + chrono::TimeDelta::from_std(lease).unwrap_or_default();
        let expires = now + chrono::TimeDelta::days(MAIL_RECORD_DAYS);
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.subscribers)
            .item("pk", s(mail_pk(key)))
            .item(
                "until",
                AttributeValue::N(until.timestamp_millis().to_string()),
            )
            .item(
                "expires",
                AttributeValue::N(expires.timestamp().to_string()),
            )
            // New, or claimed by a sender whose lease ran out and never sent it.
            .condition_expression(
                "attribute_not_exists(pk) OR (attribute_not_exists(sent) AND #u < :now)",
            )
            .expression_attribute_names("#u", "until")
            .expression_attribute_values(
                ":now",
                AttributeValue::N(now.timestamp_millis().to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk("claim a mail", e)),
        }
    }

    async fn mail_sent(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.subscribers)
            .key("pk", s(mail_pk(key)))
            .update_expression("SET sent = :t REMOVE #u")
            .expression_attribute_names("#u", "until")
            .expression_attribute_values(":t", s(Utc::now().to_rfc3339()))
            .send()
            .await
            .map_err(|e| sdk("record a mail sent", e))?;
        Ok(())
    }

    async fn release_mail(&self, key: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.tables.subscribers)
            .key("pk", s(mail_pk(key)))
            .condition_expression("attribute_not_exists(sent)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(()) // sent after all: keep the record
            }
            Err(e) => Err(sdk("release a mail", e)),
        }
    }
}
