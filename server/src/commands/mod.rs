//! The client commands. `submit`, `jobs`, `queues`, `schedules`, `report` and `watch` talk
//! to a running server over the REST API (so the CLI, the dashboard and
//! scripts never disagree); `migrate` talks to the database.

pub mod jobs;
pub mod migrate;
pub mod queues;
pub mod report;
pub mod schedules;
pub mod submit;
pub mod watch;

use crate::client::Client;
use crate::config::Config;

/// The API client for a command: `--url`, and the token in `AMBOY_TOKEN`.
pub(crate) fn client(config: &Config) -> anyhow::Result<Client> {
    Client::new(&config.url, std::env::var("AMBOY_TOKEN").ok())
}

/// Prints `value` as pretty JSON.
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
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
