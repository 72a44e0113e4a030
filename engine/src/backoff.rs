//! Retry delays: exponential back-off with jitter.

use std::time::Duration;

use rand::Rng;

/// The delay before attempt `attempt + 1`, after `attempt` failed:
/// `base · 2^(attempt-1)`, capped at `max`, minus up to 25% jitter so that
/// jobs failing together don't retry together.
pub fn retry_delay(attempt: i32, base: Duration, max: Duration) -> Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 62)).unwrap_or(0);
    let full = base
        .checked_mul(1u32.checked_shl(exponent.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(max)
        .min(max);
    let jitter = rand::rng().random_range(0.0..0.25);
    full.mul_f64(1.0 - jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_and_cap() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        for (attempt, full) in [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (40, 60), (0, 1)] {
            let full = Duration::from_secs(full);
            for _ in 0..50 {
                let delay = retry_delay(attempt, base, max);
                assert!(delay <= full, "attempt {attempt}: {delay:?} > {full:?}");
                assert!(
                    delay >= full.mul_f64(0.75),
                    "attempt {attempt}: {delay:?} too short"
                );
            }
        }
    }
}
