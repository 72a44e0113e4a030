//! The one-shot commands: `migrate`, `submit`, `jobs`, `schedules`.
//!
//! For now they talk to the database directly; a running server is not
//! needed (a later change moves them onto the REST API).

pub mod jobs;
pub mod migrate;
pub mod schedules;
pub mod submit;

use amboy::Engine;

use crate::config::Config;

/// An engine for a one-shot command (built-in job types; shell jobs may be
/// put, since whether they run is up to the worker that claims them).
pub(crate) async fn engine(config: &Config) -> anyhow::Result<Engine> {
    crate::serve::connect(config, true).await
}

/// Rows under a header, columns padded to their widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}
