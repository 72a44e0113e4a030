//! The `amboy` binary as a user runs it: `migrate` against the database,
//! and the client commands (submit, jobs, queues, schedules) against a live
//! `amboy serve` started for each test.

mod support;

use std::process::{Command, Output};

use support::Amboy;

struct Cli {
    database_url: String,
    base: String,
    token: Option<&'static str>,
    server: Amboy,
    _dir: tempfile::TempDir,
}

impl Cli {
    /// A server without tokens.
    fn new() -> Self {
        Self::serving(None)
    }

    /// A server whose operator token is `token`; the CLI is given it.
    fn serving(token: Option<&'static str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database_url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("amboy.db").display()
        );
        let mut env = vec![("AMBOY_DATABASE_URL", database_url.as_str())];
        if let Some(token) = token {
            env.push(("AMBOY_OPERATOR_TOKEN", token));
        }
        let server = Amboy::start(
            &["serve", "--listen", "127.0.0.1:0", "--log-format", "json"],
            &env,
            "amboy serving on ",
        );
        Cli {
            database_url,
            base: server.url.clone(),
            token,
            server,
            _dir: dir,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_amboy"));
        command
            .args(args)
            .env("AMBOY_DATABASE_URL", &self.database_url)
            .env("AMBOY_URL", &self.base)
            .env_remove("AMBOY_CONFIG");
        match self.token {
            Some(token) => command.env("AMBOY_TOKEN", token),
            None => command.env_remove("AMBOY_TOKEN"),
        };
        command.output().expect("run amboy")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "amboy {args:?} failed: {}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.server.log()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "amboy {args:?} should have failed");
        String::from_utf8(out.stderr).unwrap()
    }
}

#[test]
fn migrate_brings_a_fresh_database_up_to_date() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().unwrap();
    let fresh = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("fresh.db").display()
    );
    let status = cli.run(&["migrate", "--status", "--database-url", &fresh]);
    assert_eq!(status.status.code(), Some(3));
    let migrate = ["migrate", "--database-url", fresh.as_str()];
    assert_eq!(cli.ok(&migrate).trim(), "schema migrated");
    assert_eq!(cli.ok(&migrate).trim(), "schema is up to date");
    // The server migrated its own database at start.
    assert_eq!(
        cli.ok(&["migrate", "--status"]).trim(),
        "schema is up to date"
    );
}

#[test]
fn submit_list_and_show() {
    let cli = Cli::new();
    let id = cli.ok(&[
        "submit",
        "--queue",
        "emails",
        "--type",
        "noop",
        "--payload",
        "{}",
        "--id",
        "job-1",
        "--priority",
        "5",
        "--max-attempts",
        "2",
        "--delay",
        "1h",
        "--dispatch-by",
        "2h",
    ]);
    assert_eq!(id.trim(), "job-1");
    let shown: serde_json::Value =
        serde_json::from_str(&cli.ok(&["jobs", "show", "job-1", "--json"])).unwrap();
    assert!(shown.to_string().contains("dispatch_by"), "{shown}");
    assert_ne!(
        shown
            .pointer("/job/dispatch_by")
            .unwrap_or(&shown["dispatch_by"]),
        &serde_json::Value::Null,
        "{shown}"
    );
    let generated = cli.ok(&[
        "submit",
        "--queue",
        "emails",
        "--type",
        "sleep",
        "--payload",
        r#"{"ms": 5}"#,
    ]);
    assert_eq!(generated.trim().len(), 36, "a UUID: {generated}");

    let table = cli.ok(&["jobs", "list", "--queue", "emails"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("ID"), "{table}");
    assert!(
        table.contains("job-1") && table.contains("pending") && table.contains("0/2"),
        "{table}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["jobs", "list", "--type", "noop", "--json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["id"], "job-1");
    assert_eq!(json[0]["priority"], 5);
    assert_eq!(json[0]["state"], "pending");

    let paged = cli.ok(&["jobs", "list", "--limit", "1"]);
    assert!(paged.contains("(more: --after "), "{paged}");

    let shown = cli.ok(&["jobs", "show", "job-1"]);
    assert!(
        shown.contains("state:     pending") && shown.contains("queue:     emails"),
        "{shown}"
    );
    let detail: serde_json::Value =
        serde_json::from_str(&cli.ok(&["jobs", "show", "job-1", "--json"])).unwrap();
    assert_eq!(detail["type"], "noop");

    // Queue rules: added, changed in place, listed, deleted.
    cli.ok(&[
        "queues",
        "rule-add",
        "tenant-.*",
        "--concurrency",
        "3",
        "--idle-ttl",
        "10m",
    ]);
    cli.ok(&["queues", "rule-add", "bulk-.*", "--position", "0"]);
    let rules = cli.ok(&[
        "queues",
        "rule-add",
        "tenant-.*",
        "--concurrency",
        "4",
        "--idle-ttl",
        "10m",
    ]);
    let lines: Vec<&str> = rules.lines().collect();
    assert!(lines[0].starts_with("PATTERN"), "{rules}");
    assert!(
        lines[1].starts_with("bulk-.*") && lines[2].starts_with("tenant-.*"),
        "{rules}"
    );
    assert!(
        lines[2].contains(" 4 ") && lines[2].contains("600000 ms"),
        "{rules}"
    );
    cli.ok(&[
        "submit", "--queue", "tenant-1", "--type", "noop", "--delay", "1h",
    ]);
    let queues = cli.ok(&["queues", "list"]);
    let tenant = queues.lines().find(|l| l.starts_with("tenant-1")).unwrap();
    assert!(tenant.contains("tenant-.*"), "{queues}");
    let set: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "queues",
        "set",
        "tenant-1",
        "--idle-ttl",
        "none",
        "--json",
    ]))
    .unwrap();
    assert_eq!(set[0]["rule"], serde_json::Value::Null, "{set}");
    cli.ok(&["queues", "rule-delete", "bulk-.*"]);
    let rules: serde_json::Value =
        serde_json::from_str(&cli.ok(&["queues", "rules", "--json"])).unwrap();
    assert_eq!(rules.as_array().unwrap().len(), 1, "{rules}");
    assert_eq!(rules[0]["pattern"], "tenant-.*");

    // A job waiting for job-1, with scopes and a dependency manager.
    cli.ok(&[
        "submit",
        "--queue",
        "emails",
        "--type",
        "noop",
        "--id",
        "job-2",
        "--depends-on",
        "job-1",
        "--on-dependency-failure",
        "run",
        "--scope",
        "smtp,dns",
        "--enqueue-scope",
        "digest",
        "--dependency",
        r#"{"type":"create-file","path":"/tmp/amboy-cli-marker"}"#,
    ]);
    let shown = cli.ok(&["jobs", "show", "job-2"]);
    for expected in [
        "state:     blocked",
        "depends on: job-1 (1 waiting; on failure: run)",
        "scopes:    dns, smtp",
        "enqueue scopes: digest",
        r#"dependency: {"type":"create-file","path":"/tmp/amboy-cli-marker"}"#,
    ] {
        assert!(shown.contains(expected), "{expected:?} in {shown}");
    }
}

#[test]
fn bad_input_is_a_clear_error_and_stores_nothing() {
    let cli = Cli::new();
    for (args, expected) in [
        (
            vec!["submit", "--queue", "q", "--type", "nope"],
            "unknown job type \"nope\"",
        ),
        (
            vec![
                "submit",
                "--queue",
                "q",
                "--type",
                "sleep",
                "--payload",
                "{\"ms\": -1}",
            ],
            "does not decode",
        ),
        (
            vec!["submit", "--queue", "q", "--type", "noop", "--payload", "{"],
            "--payload is not JSON",
        ),
        (
            vec![
                "submit",
                "--queue",
                "q",
                "--type",
                "noop",
                "--depends-on",
                "ghost",
            ],
            "depends on \"ghost\", which does not exist",
        ),
        (
            vec![
                "submit",
                "--queue",
                "q",
                "--type",
                "noop",
                "--dependency",
                "{",
            ],
            "--dependency is not JSON",
        ),
        (
            vec![
                "submit",
                "--queue",
                "q",
                "--type",
                "noop",
                "--on-dependency-failure",
                "maybe",
            ],
            "invalid value 'maybe'",
        ),
        (
            vec!["submit", "--queue", "no spaces", "--type", "noop"],
            "invalid queue name",
        ),
        (
            vec!["submit", "--queue", "q", "--type", "noop", "--delay", "-5s"],
            "must not be negative",
        ),
        (
            vec![
                "submit", "--queue", "q", "--type", "noop", "--delay", "soon",
            ],
            "not a duration",
        ),
        (
            vec![
                "submit",
                "--queue",
                "q",
                "--type",
                "noop",
                "--delay",
                "1h",
                "--dispatch-by",
                "10m",
            ],
            "dispatch_by",
        ),
        (
            vec![
                "submit",
                "--queue",
                "q",
                "--type",
                "noop",
                "--max-attempts",
                "0",
            ],
            "max_attempts",
        ),
        (
            vec!["jobs", "list", "--state", "done"],
            "unknown job state \"done\"",
        ),
        (vec!["jobs", "list", "--limit", "0"], "limit"),
        (vec!["jobs", "show", "missing"], "no job has id \"missing\""),
    ] {
        let stderr = cli.fails(&args);
        assert!(
            stderr.contains(expected),
            "amboy {args:?}: expected {expected:?} in {stderr}"
        );
    }
    let listed: serde_json::Value =
        serde_json::from_str(&cli.ok(&["jobs", "list", "--json"])).unwrap();
    assert_eq!(listed, serde_json::json!([]));
}

#[test]
fn serve_refuses_a_public_address() {
    let cli = Cli::new();
    let stderr = cli.fails(&["serve", "--listen", "0.0.0.0:0"]);
    assert!(stderr.contains("loopback"), "{stderr}");
}

#[test]
fn schedules_are_managed_from_the_command_line() {
    let cli = Cli::new();
    let added: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "schedules",
        "add",
        "nightly",
        "--queue",
        "reports",
        "--type",
        "sleep",
        "--payload",
        r#"{"ms": 5}"#,
        "--cron",
        "30 2 * * *",
        "--timezone",
        "Europe/Berlin",
        "--misfire",
        "skip",
        "--json",
    ]))
    .unwrap();
    assert_eq!(added["name"], "nightly");
    assert_eq!(added["misfire"], "skip");
    assert_eq!(
        added["spec"],
        serde_json::json!({"kind": "cron", "expr": "30 2 * * *", "timezone": "Europe/Berlin"})
    );
    let next = cli.ok(&["schedules", "next", "nightly", "--count", "2"]);
    assert_eq!(next.lines().count(), 2);
    assert!(
        next.lines().all(|line| line.contains("T02:30:00+0")),
        "{next}"
    );
    cli.ok(&[
        "schedules",
        "add",
        "tick",
        "--queue",
        "q",
        "--type",
        "noop",
        "--every",
        "30s",
        "--overlap",
        "threshold:10",
    ]);
    let table = cli.ok(&["schedules", "list"]);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains("cron 30 2 * * * (Europe/Berlin)"), "{table}");
    assert!(table.contains("every 30s"), "{table}");

    let edited: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "schedules",
        "edit",
        "nightly",
        "--cron",
        "0 3 * * 1-5",
        "--json",
    ]))
    .unwrap();
    assert_eq!(edited["spec"]["expr"], "0 3 * * 1-5");
    assert_eq!(edited["spec"]["timezone"], "Europe/Berlin", "kept");
    assert_eq!(edited["payload"], serde_json::json!({"ms": 5}), "kept");
    let disabled: serde_json::Value =
        serde_json::from_str(&cli.ok(&["schedules", "disable", "tick", "--json"])).unwrap();
    assert_eq!(
        (
            disabled["enabled"].clone(),
            disabled["next_fire_at"].clone()
        ),
        (false.into(), serde_json::Value::Null)
    );
    let id = cli.ok(&["schedules", "run", "nightly"]);
    assert!(id.trim().starts_with("schedule:nightly:run:"), "{id}");
    let job: serde_json::Value =
        serde_json::from_str(&cli.ok(&["jobs", "show", id.trim(), "--json"])).unwrap();
    assert_eq!(job["queue"], "reports");
    let shown = cli.ok(&["schedules", "show", "tick"]);
    assert!(shown.contains("overlap:   threshold:10"), "{shown}");
    cli.ok(&["schedules", "delete", "tick"]);
    let listed: serde_json::Value =
        serde_json::from_str(&cli.ok(&["schedules", "list", "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[test]
fn bad_schedules_are_a_clear_error_and_store_nothing() {
    let cli = Cli::new();
    let add = |extra: &[&'static str]| {
        let mut args = vec!["schedules", "add", "s", "--queue", "q", "--type", "noop"];
        args.extend_from_slice(extra);
        args
    };
    for (args, expected) in [
        (
            add(&["--cron", "0 25 * * *"]),
            "hour \"25\" is not valid; allowed: 0–23",
        ),
        (add(&["--cron", "* * *"]), "has 3 fields"),
        (
            add(&["--cron", "* * * * *", "--timezone", "Mars/Base"]),
            "not an IANA time zone",
        ),
        (add(&["--every", "0s"]), "at least 1000"),
        (add(&["--every", "-5s"]), "negative"),
        (add(&[]), "give --cron EXPR or --every DURATION"),
        (
            add(&["--every", "1m", "--overlap", "sometimes"]),
            "--overlap",
        ),
        (
            add(&["--every", "1m", "--misfire", "never"]),
            "not one of skip, fire-once, fire-all",
        ),
        (
            vec![
                "schedules",
                "add",
                "s",
                "--queue",
                "q",
                "--type",
                "nope",
                "--every",
                "1m",
            ],
            "unknown job type \"nope\"",
        ),
        (
            vec![
                "schedules",
                "add",
                "s",
                "--queue",
                "q",
                "--type",
                "sleep",
                "--payload",
                "{\"ms\": \"x\"}",
                "--every",
                "1m",
            ],
            "does not decode",
        ),
        (
            vec!["schedules", "show", "missing"],
            "no schedule named \"missing\"",
        ),
        (
            vec!["schedules", "next", "missing"],
            "no schedule named \"missing\"",
        ),
    ] {
        let stderr = cli.fails(&args);
        assert!(
            stderr.contains(expected),
            "amboy {args:?}: expected {expected:?} in {stderr}"
        );
    }
    let listed: serde_json::Value =
        serde_json::from_str(&cli.ok(&["schedules", "list", "--json"])).unwrap();
    assert_eq!(listed, serde_json::json!([]));
}

#[test]
fn jobs_and_queues_are_changed_through_the_server_with_a_token() {
    let cli = Cli::serving(Some("cli-operator-token"));
    // Paused, so the server's workers leave the jobs where the commands put them.
    let paused = cli.ok(&["queues", "set", "ops", "--concurrency", "2"]);
    assert!(paused.contains("ops"), "{paused}");
    let paused = cli.ok(&["queues", "pause", "ops"]);
    assert!(paused.contains("paused"), "{paused}");
    cli.ok(&[
        "submit", "--queue", "ops", "--type", "noop", "--id", "a", "--delay", "1h",
    ]);
    cli.ok(&[
        "submit", "--queue", "ops", "--type", "noop", "--id", "b", "--delay", "1h",
    ]);
    assert_eq!(cli.ok(&["jobs", "abort", "a"]).trim(), "a: aborted");
    assert_eq!(cli.ok(&["jobs", "retry", "a"]).trim(), "a: pending");
    assert_eq!(cli.ok(&["jobs", "complete", "a"]).trim(), "a: completed");
    assert_eq!(
        cli.ok(&["jobs", "wait", "a", "--timeout", "1s"]).trim(),
        "a: completed"
    );
    assert!(
        cli.fails(&["jobs", "wait", "b", "--timeout", "100ms"])
            .contains("timed out")
    );
    assert_eq!(cli.ok(&["jobs", "delete", "a"]).trim(), "deleted job a");
    assert!(
        cli.fails(&["jobs", "show", "a"])
            .contains("no job has id \"a\"")
    );

    let set: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "queues",
        "set",
        "ops",
        "--concurrency",
        "4",
        "--ordering",
        "priority",
        "--json",
    ]))
    .unwrap();
    assert_eq!(set[0]["settings"]["concurrency"], 4);
    let limited: serde_json::Value =
        serde_json::from_str(&cli.ok(&["queues", "set", "ops", "--rate-limit", "2.5", "--json"]))
            .unwrap();
    assert_eq!(limited[0]["settings"]["rate_limit_per_sec"], 2.5);
    assert_eq!(limited[0]["settings"]["concurrency"], 4, "kept");
    let unlimited: serde_json::Value =
        serde_json::from_str(&cli.ok(&["queues", "set", "ops", "--rate-limit", "none", "--json"]))
            .unwrap();
    assert_eq!(
        unlimited[0]["settings"]["rate_limit_per_sec"],
        serde_json::Value::Null
    );
    assert!(
        cli.fails(&["queues", "set", "ops", "--rate-limit", "0"])
            .contains("rate_limit_per_sec")
    );
    assert!(
        cli.fails(&["queues", "set", "ops", "--rate-limit", "fast"])
            .contains("--rate-limit")
    );
    let retained: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "queues",
        "set",
        "ops",
        "--retention-max-jobs",
        "1000",
        "--retention-max-age",
        "7d",
        "--json",
    ]))
    .unwrap();
    assert_eq!(retained[0]["settings"]["retention_max_jobs"], 1000);
    assert_eq!(
        retained[0]["settings"]["retention_max_age_ms"],
        7 * 24 * 3600 * 1000
    );
    let unretained: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "queues",
        "set",
        "ops",
        "--retention-max-age",
        "none",
        "--json",
    ]))
    .unwrap();
    assert_eq!(
        unretained[0]["settings"]["retention_max_age_ms"],
        serde_json::Value::Null
    );
    assert_eq!(
        unretained[0]["settings"]["retention_max_jobs"], 1000,
        "kept"
    );
    assert!(
        cli.fails(&["queues", "set", "ops", "--retention-max-jobs", "lots"])
            .contains("--retention-max-jobs")
    );
    assert_eq!(set[0]["settings"]["ordering"], "priority");
    cli.ok(&["queues", "resume", "ops"]);
    let listed = cli.ok(&["queues", "list"]);
    assert!(listed.starts_with("QUEUE"), "{listed}");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("ops") && l.contains("active")),
        "{listed}"
    );
    assert!(
        cli.fails(&["queues", "set", "ops"])
            .contains("give at least one")
    );
    assert!(
        cli.fails(&["queues", "set", "ops", "--concurrency", "0"])
            .contains("concurrency")
    );

    let report = cli.ok(&["report", "counts", "--queue", "ops"]);
    assert!(report.starts_with("QUEUE  TYPE"), "{report}");
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("ops") && l.contains("noop")),
        "{report}"
    );
    let errors: serde_json::Value =
        serde_json::from_str(&cli.ok(&["report", "errors", "--window", "1h", "--json"])).unwrap();
    assert_eq!(errors, serde_json::json!([]));
    assert!(
        cli.fails(&["report", "errors", "--window", "0s"])
            .contains("window")
    );
    let timing = cli.ok(&["report", "timing", "--window", "1h"]);
    assert!(timing.starts_with("TYPE  RUNS"), "{timing}");
    assert!(
        cli.fails(&["report", "timing", "--window", "60d"])
            .contains("window")
    );

    // Without the token the server refuses, and says how to fix it.
    let out = Command::new(env!("CARGO_BIN_EXE_amboy"))
        .args(["jobs", "list"])
        .env("AMBOY_URL", &cli.base)
        .env_remove("AMBOY_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AMBOY_TOKEN"));
    // Nowhere to connect to: a clear error.
    let out = Command::new(env!("CARGO_BIN_EXE_amboy"))
        .args(["jobs", "list", "--url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not reach amboy"));
}

#[test]
fn watch_prints_the_live_stream() {
    let cli = Cli::serving(Some("watch-token"));
    let json = cli.ok(&["watch", "--json", "--count", "2"]);
    let messages: Vec<serde_json::Value> = json
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let stats = messages.iter().filter(|m| m["type"] == "stats").count();
    assert_eq!(stats, 2, "{json}");
    let table = cli.ok(&["watch", "--count", "1"]);
    assert!(
        table.contains("QUEUE") && table.contains("completed"),
        "{table}"
    );
    // Without the token: the server's refusal, with a hint.
    let mut anonymous = Command::new(env!("CARGO_BIN_EXE_amboy"));
    let out = anonymous
        .args(["watch", "--count", "1", "--url", &cli.base])
        .env_remove("AMBOY_TOKEN")
        .env_remove("AMBOY_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AMBOY_TOKEN"), "{err}");
}
