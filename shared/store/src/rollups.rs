//! The hourly rollups (`atalaya_core::rollup`) as the report and the status site read them.

use crate::StoreError;
use atalaya_core::rollup::{Detail, Hours};
use atalaya_core::ProbeResult;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
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

    /// What `service`'s checks did from `from` to `to`, summed: each check's time per region
    /// (`subjects`: the [`atalaya_core::rollup::check_key`]s wanted; the regions they name are
    /// those read) and latency sketches (the service's in those regions, and each subject's). Kept by the local runner as it goes, by the hourly job on
    /// AWS ([`HourlyRollups`]).
    fn detail(
        &self,
        service: &str,
        subjects: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Detail, StoreError>> + Send;

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

/// What the hourly job on AWS needs (`atalaya_app::rollup_job`): each region's results of an
/// hour, page by page, and where to keep what it made of them.
pub trait HourlyRollups {
    /// Of these hours, those of `regions` whose part is written, by hour.
    fn regions_done(
        &self,
        hours: &[DateTime<Utc>],
        regions: &BTreeSet<String>,
    ) -> impl Future<Output = Result<BTreeMap<DateTime<Utc>, BTreeSet<String>>, StoreError>> + Send;

    /// Gives `each` the results of `region` stored from `from` to `to` (by their run's first
    /// result), a page at a time; returns how many. An item that cannot be read is logged and
    /// counted in the second number, never fatal (it would stop every later hour).
    fn each_results_page(
        &self,
        region: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        each: &mut (dyn FnMut(Vec<ProbeResult>) + Send),
    ) -> impl Future<Output = Result<(usize, usize), StoreError>> + Send;

    /// Writes `region`'s part of each service's `hour`, then records the hour done there.
    fn write_region_hour(
        &self,
        region: &str,
        hour: DateTime<Utc>,
        by_service: &BTreeMap<String, Detail>,
    ) -> impl Future<Output = Result<Written, StoreError>> + Send;
}

/// What [`HourlyRollups::write_region_hour`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub items: usize,
    pub bytes: usize,
    pub largest: usize,
    /// Parts too large to keep each check's latency: they keep the service's.
    pub trimmed: usize,
}
