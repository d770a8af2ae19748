//! The hourly rollups (`atalaya_core::rollup`) as the report and the status site read them.

use crate::StoreError;
use atalaya_core::rollup::Hours;
use chrono::{DateTime, Utc};
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
}
