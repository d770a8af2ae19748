//! Heartbeats' ping logs in the state table: `pk = heartbeat#<check>` with the log (`log`, S:
//! JSON, under 1 KB) and its `version` (N), written conditional on the version read; the ping
//! endpoint's mark is `pk = heartbeat-endpoint`.

use super::{get_s, s, sdk, DynamoStore};
use crate::{PingLogs, StoreError};
use atalaya_core::kinds::heartbeat::{EndpointMark, PingLog};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::BTreeMap;

const ENDPOINT: &str = "heartbeat-endpoint";

fn pk(check: &str) -> String {
    format!("heartbeat#{check}")
}

impl PingLogs for DynamoStore {
    async fn ping_logs(&self, checks: &[String]) -> Result<BTreeMap<String, PingLog>, StoreError> {
        let keys: Vec<String> = checks.iter().map(|c| pk(c)).collect();
        let items = self
            .batch_get(&self.tables.state, &keys, false, "read ping logs")
            .await?;
        let mut out = BTreeMap::new();
        for item in items {
            let key = get_s(&item, "pk")?;
            if let Some(check) = key.strip_prefix("heartbeat#") {
                out.insert(
                    check.to_string(),
                    serde_json::from_str(get_s(&item, "log")?)?,
                );
            }
        }
        Ok(out)
    }

    async fn ping_log(&self, check: &str) -> Result<(PingLog, u64), StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.state)
            .key("pk", s(pk(check)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("read a ping log", e))?;
        let Some(item) = out.item else {
            return Ok((PingLog::default(), 0));
        };
        let version = item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        Ok((serde_json::from_str(get_s(&item, "log")?)?, version))
    }

    async fn put_ping_log(
        &self,
        check: &str,
        log: &PingLog,
        version: u64,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(log)?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.tables.state)
            .item("pk", s(pk(check)))
            .item("log", s(json.clone()))
            .item("version", AttributeValue::N((version + 1).to_string()));
        put = if version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
        };
        match put.send().await {
            Ok(_) => {
                self.stats.add(&self.tables.state, json.len() + 40, false);
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|x| x.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict { expected: version })
            }
            Err(e) => Err(sdk("write a ping log", e)),
        }
    }

    async fn endpoint_mark(&self) -> Result<EndpointMark, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.state)
            .key("pk", s(ENDPOINT))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("read the ping endpoint's mark", e))?;
        match out.item {
            Some(item) => Ok(serde_json::from_str(get_s(&item, "mark")?)?),
            None => Ok(EndpointMark::default()),
        }
    }

    async fn put_endpoint_mark(&self, mark: &EndpointMark) -> Result<(), StoreError> {
        let json = serde_json::to_string(mark)?;
        self.client
            .put_item()
            .table_name(&self.tables.state)
            .item("pk", s(ENDPOINT))
            .item("mark", s(json.clone()))
            .send()
            .await
            .map_err(|e| sdk("write the ping endpoint's mark", e))?;
        self.stats.add(&self.tables.state, json.len() + 40, false);
        Ok(())
    }
}
