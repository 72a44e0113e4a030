//! The `amboy` binary as a user runs it: submit, list, show, migrate.

use std::process::{Command, Output};

struct Cli {
    url: String,
    _dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("amboy.db").display()
        );
        Cli { url, _dir: dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_amboy"))
            .args(args)
            .env("AMBOY_DATABASE_URL", &self.url)
            .env_remove("AMBOY_CONFIG")
            .output()
            .expect("run amboy")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "amboy {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
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
fn submit_list_and_show() {
    let cli = Cli::new();
    assert_eq!(cli.ok(&["migrate"]).trim(), "schema migrated");
    assert_eq!(
        cli.ok(&["migrate", "--status"]).trim(),
        "schema is up to date"
    );
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
    ]);
    assert_eq!(id.trim(), "job-1");
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
            "does not decode",
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
