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
