//! Timing histograms: queue latency (ready → started) noted at each claim,
//! run duration (started → ended) at each recorded result, gathered in
//! memory per minute, queue and job type ([`Timings`]) and added to
//! `job_timings` every few seconds by each process; the timing report merges
//! the minutes of a window. Buckets grow by √2 from 1 ms (bucket k holds durations up to
//! 2^(k/2) ms; the last, everything above ~8.7 minutes), so percentiles are
//! estimates within a factor of √2, as with any histogram.

use std::collections::BTreeMap;

use amboy_migrations::m20261130_000007_create_job_timings::BUCKETS;
use sea_orm::{ConnectionTrait, QueryResult, Value};

use super::{Store, value_rows};
use crate::error::Result;
use crate::record::{Percentiles, TimingReport};

const MINUTE_US: i64 = 60_000_000;

/// What a sample measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// Ready → started.
    Latency,
    /// Started → ended.
    Run,
}

impl Metric {
    fn as_str(self) -> &'static str {
        match self {
            Metric::Latency => "latency",
            Metric::Run => "run",
        }
    }
}

/// The bucket of a duration in µs.
fn bucket(us: i64) -> usize {
    let ms = us.max(0) as f64 / 1_000.0;
    if ms <= 1.0 {
        return 0;
    }
    let k = (2.0 * ms.log2()).ceil() as usize;
    k.min(BUCKETS - 1)
}

/// The upper bound of bucket `k`, ms (the last has none: its lower bound).
fn upper_ms(k: usize) -> f64 {
    2f64.powf(k.min(BUCKETS - 2) as f64 / 2.0)
}

struct Histogram {
    count: i64,
    sum_us: i64,
    buckets: [i64; BUCKETS],
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            count: 0,
            sum_us: 0,
            buckets: [0; BUCKETS],
        }
    }
}

impl Histogram {
    fn add(&mut self, us: i64) {
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us.max(0));
        self.buckets[bucket(us)] += 1;
    }

    /// The value below which a fraction `q` of the samples lie, ms,
    /// interpolated within its bucket.
    fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = (q * self.count as f64).ceil().max(1.0);
        let mut seen = 0.0;
        for (k, n) in self.buckets.iter().enumerate() {
            let n = *n as f64;
            if n > 0.0 && seen + n >= rank {
                let lower = if k == 0 { 0.0 } else { upper_ms(k - 1) };
                if k == BUCKETS - 1 {
                    return lower;
                }
                return lower + (upper_ms(k) - lower) * (rank - seen) / n;
            }
            seen += n;
        }
        upper_ms(BUCKETS - 1)
    }

    fn percentiles(&self) -> Percentiles {
        Percentiles {
            count: self.count,
            mean_ms: if self.count == 0 {
                0.0
            } else {
                self.sum_us as f64 / self.count as f64 / 1_000.0
            },
            p50_ms: self.quantile(0.50),
            p95_ms: self.quantile(0.95),
            p99_ms: self.quantile(0.99),
        }
    }
}

/// Histograms by (minute, queue, job type, metric).
type Groups = BTreeMap<(i64, String, String, Metric), Histogram>;

/// Timing samples gathered in memory until the next write. A process that
/// dies loses what it gathered since (seconds of statistics, never state).
#[derive(Default)]
pub struct Timings(std::sync::Mutex<Groups>);

impl std::fmt::Debug for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Timings")
    }
}

impl Timings {
    /// Notes one sample: when (µs), where, what, how long (µs).
    pub fn add(&self, at: i64, queue: &str, job_type: &str, metric: Metric, us: i64) {
        let minute = at - at.rem_euclid(MINUTE_US);
        let mut groups = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Look up by borrowed parts first: most samples hit an existing group.
        if let Some(h) = groups.iter_mut().find_map(|((m, q, t, k), h)| {
            (*m == minute && q == queue && t == job_type && *k == metric).then_some(h)
        }) {
            h.add(us);
            return;
        }
        let mut h = Histogram::default();
        h.add(us);
        groups.insert((minute, queue.to_owned(), job_type.to_owned(), metric), h);
    }

    fn take(&self) -> Groups {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn put_back(&self, groups: Groups) {
        let mut current = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (key, h) in groups {
            let into = current.entry(key).or_default();
            into.count += h.count;
            into.sum_us = into.sum_us.saturating_add(h.sum_us);
            for (a, b) in into.buckets.iter_mut().zip(h.buckets) {
                *a += b;
            }
        }
    }
}

impl Store {
    /// Adds what `timings` gathered to `job_timings`: one statement. On
    /// failure the samples are kept for the next write.
    pub async fn write_timings(&self, timings: &Timings) -> Result<()> {
        let groups = timings.take();
        if groups.is_empty() {
            return Ok(());
        }
        let result = self.insert_timings(&groups).await;
        if result.is_err() {
            timings.put_back(groups);
        }
        result
    }

    async fn insert_timings(&self, groups: &Groups) -> Result<()> {
        let width = 6 + BUCKETS;
        let names: Vec<String> = (0..BUCKETS).map(|k| format!("b{k:02}")).collect();
        let sums: Vec<String> = names
            .iter()
            .map(|b| format!("{b} = job_timings.{b} + excluded.{b}"))
            .collect();
        let rows: Vec<_> = groups.iter().collect();
        // All or nothing: a failed write is retried whole, never counted twice.
        let txn = self.begin().await?;
        // At most 500 rows (23,000 values) per statement.
        for chunk in rows.chunks(500) {
            let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * width);
            for ((minute, queue, job_type, metric), h) in chunk {
                values.extend([
                    (*minute).into(),
                    queue.clone().into(),
                    job_type.clone().into(),
                    metric.as_str().into(),
                    h.count.into(),
                    h.sum_us.into(),
                ]);
                values.extend(h.buckets.iter().map(|n| Value::from(*n)));
            }
            let sql = format!(
                "INSERT INTO job_timings (minute, queue, job_type, metric, count, sum_us, {}) \
                 VALUES {} ON CONFLICT (minute, queue, job_type, metric) DO UPDATE SET \
                 count = job_timings.count + excluded.count, \
                 sum_us = job_timings.sum_us + excluded.sum_us, {}",
                names.join(", "),
                value_rows(1, chunk.len(), width),
                sums.join(", ")
            );
            txn.execute_raw(self.stmt(&sql, values)).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The histograms of the minutes since `since` (µs), of one queue or
    /// all, summed by `group` (a column: `job_type` or `queue`) and metric.
    async fn summed(
        &self,
        since: i64,
        queue: Option<&str>,
        group: &'static str,
    ) -> Result<Vec<(String, String, Histogram)>> {
        let sums: Vec<String> = (0..BUCKETS)
            .map(|k| format!("CAST(SUM(b{k:02}) AS BIGINT) AS b{k:02}"))
            .collect();
        let mut values: Vec<Value> = vec![(since - since.rem_euclid(MINUTE_US)).into()];
        let condition = match queue {
            Some(queue) => {
                values.push(queue.into());
                " AND queue = $2"
            }
            None => "",
        };
        let rows = self
            .read
            .query_all_raw(self.stmt(
                &format!(
                    "SELECT {group} AS grouped, metric, CAST(SUM(count) AS BIGINT) AS count, \
                     CAST(SUM(sum_us) AS BIGINT) AS sum_us, {} \
                     FROM job_timings WHERE minute >= $1{condition} \
                     GROUP BY {group}, metric ORDER BY {group}, metric",
                    sums.join(", ")
                ),
                values,
            ))
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("", "grouped")?,
                    row.try_get("", "metric")?,
                    histogram(row)?,
                ))
            })
            .collect()
    }

    /// Latency and run-duration percentiles by job type (of one queue, or
    /// all) over the minutes since `since` (µs).
    pub async fn timing_report(
        &self,
        since: i64,
        queue: Option<&str>,
    ) -> Result<Vec<TimingReport>> {
        let mut by_type: BTreeMap<String, TimingReport> = BTreeMap::new();
        for (job_type, metric, h) in self.summed(since, queue, "job_type").await? {
            let report = by_type
                .entry(job_type.clone())
                .or_insert_with(|| TimingReport {
                    job_type,
                    queue_latency: Percentiles::default(),
                    run_duration: Percentiles::default(),
                });
            match metric.as_str() {
                "latency" => report.queue_latency = h.percentiles(),
                _ => report.run_duration = h.percentiles(),
            }
        }
        Ok(by_type.into_values().collect())
    }

    /// Queue latency percentiles by queue over the minutes since `since` (µs).
    pub async fn queue_latencies(&self, since: i64) -> Result<BTreeMap<String, Percentiles>> {
        Ok(self
            .summed(since, None, "queue")
            .await?
            .into_iter()
            .filter(|(_, metric, _)| metric == "latency")
            .map(|(queue, _, h)| (queue, h.percentiles()))
            .collect())
    }

    /// Forgets timings of minutes before `before` (µs).
    pub async fn prune_timings(&self, before: i64) -> Result<()> {
        self.write
            .execute_raw(self.stmt(
                "DELETE FROM job_timings WHERE minute < $1",
                vec![before.into()],
            ))
            .await?;
        Ok(())
    }
}

/// A summed row as a histogram.
fn histogram(row: &QueryResult) -> Result<Histogram> {
    let mut h = Histogram {
        count: row.try_get("", "count")?,
        sum_us: row.try_get("", "sum_us")?,
        buckets: [0; BUCKETS],
    };
    for (k, b) in h.buckets.iter_mut().enumerate() {
        *b = row.try_get("", &format!("b{k:02}"))?;
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_grow_by_root_two() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1_000), 0);
        assert_eq!(bucket(1_400), 1);
        assert_eq!(bucket(2_000), 2);
        assert_eq!(bucket(100_000), 14);
        assert_eq!(bucket(i64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_land_in_the_right_bucket() {
        let mut h = Histogram::default();
        for ms in 1..=100 {
            h.add(ms * 1_000);
        }
        let p = h.percentiles();
        assert_eq!(p.count, 100);
        assert!((p.mean_ms - 50.5).abs() < 1e-9);
        // Exact: 50, 95, 99; a √2 bucket holds each within its bounds.
        assert!((45.0..=64.0).contains(&p.p50_ms), "{p:?}");
        assert!((90.0..=128.0).contains(&p.p95_ms), "{p:?}");
        assert!((90.0..=128.0).contains(&p.p99_ms), "{p:?}");
        assert!(p.p50_ms <= p.p95_ms && p.p95_ms <= p.p99_ms);
    }
}
