//! The hourly rollups (`atalaya_core::rollup`) as the report and the status site read them.

use crate::StoreError;
use atalaya_core::rollup::Hours;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::future::Future;

/// Read by `atalaya report` and the status site; written by whoever evaluates (the runner, the
/// alert function) through each store's own accrual.
pub trait Rollups {
    /// `service`'s hours from `from` (included) to `to` (excluded).
    fn service_hours(
        &self,
        service: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Hours, StoreError>> + Send;

    /// `check`'s hours in `region` (`atalaya_core::rollup::check_key`), from `from` to `to`.
    fn check_hours(
        &self,
        service: &str,
        check: &str,
        region: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Hours, StoreError>> + Send;

    /// Sets completed hours, by service, then by subject: the service itself (its id) or one of
    /// its checks in a region (`check_key`). An hour written twice is the same hour.
    fn write_hours(
        &self,
        by_service: &BTreeMap<String, BTreeMap<String, Hours>>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records that the evaluator runs at `now`, and says when it last did.
    fn alive(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>, StoreError>> + Send;

    /// When the evaluator last recorded that it ran.
    fn last_alive(&self) -> impl Future<Output = Result<Option<DateTime<Utc>>, StoreError>> + Send;
}
