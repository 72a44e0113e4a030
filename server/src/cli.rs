//! The command line.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// amboy: a job queue and cron/interval scheduler you can see into.
#[derive(Debug, Parser)]
#[command(name = "amboy", version, about, propagate_version = true)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes. Each overrides the TOML file, which overrides
/// the built-in default.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Database URL: sqlite://FILE?mode=rwc, sqlite::memory:, or postgres://…
    /// [default: sqlite://amboy.db?mode=rwc]
    #[arg(long, env = "AMBOY_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// A TOML file with any of: database_url, database_pool, listen, log,
    /// log_format, enable_shell_jobs, queues, shutdown_timeout_secs.
    #[arg(long, env = "AMBOY_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Log filter, e.g. `info` or `amboy=debug` [default: info; RUST_LOG is read too]
    #[arg(long, env = "AMBOY_LOG", global = true)]
    pub log: Option<String>,
    /// Log format.
    #[arg(long, env = "AMBOY_LOG_FORMAT", global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// The server the client commands (submit, jobs, queues, schedules)
    /// talk to; the token comes from AMBOY_TOKEN [default: http://127.0.0.1:3000]
    #[arg(long, env = "AMBOY_URL", global = true)]
    pub url: Option<String>,
    /// Connections to PostgreSQL per process (plus one for signals);
    /// ignored on SQLite [default: 8]
    #[arg(long, env = "AMBOY_DATABASE_POOL", global = true, value_name = "N")]
    pub database_pool: Option<u32>,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    Pretty,
    /// One JSON object per line, for log pipelines.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the engine (workers) and the dashboard.
    Serve(ServeArgs),
    /// Run the engine's workers only (scale-out).
    Worker(WorkerCommandArgs),
    /// Bring the database schema up to date.
    Migrate(MigrateArgs),
    /// Put a job.
    Submit(SubmitArgs),
    /// Look at jobs.
    Jobs(JobsArgs),
    /// Manage recurring schedules.
    Schedules(SchedulesArgs),
    /// Look at and change queues.
    Queues(QueuesArgs),
    /// Management reports.
    Report(ReportArgs),
    /// Live queue counts and job events from a running server.
    Watch(WatchArgs),
}

/// Flags for running workers.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Work only these queues (comma-separated); every queue when absent.
    #[arg(long, env = "AMBOY_QUEUES", value_delimiter = ',')]
    pub queues: Option<Vec<String>>,
    /// Let `shell` jobs run commands on this machine.
    #[arg(long, env = "AMBOY_ENABLE_SHELL_JOBS")]
    pub enable_shell_jobs: bool,
    /// Seconds to let running jobs finish at shutdown before they are handed back.
    #[arg(long, env = "AMBOY_SHUTDOWN_TIMEOUT_SECS")]
    pub shutdown_timeout_secs: Option<u64>,
}

/// Flags for `amboy worker`.
#[derive(Debug, Clone, Args)]
pub struct WorkerCommandArgs {
    /// Serve `/metrics` (and `/healthz`, `/readyz`) on this address, e.g.
    /// 127.0.0.1:9464 [default: none]
    #[arg(long, env = "AMBOY_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Serve metrics on a non-loopback address even though no token is
    /// configured.
    #[arg(long)]
    pub allow_public_without_tokens: bool,
    /// Worker flags.
    #[command(flatten)]
    pub worker: WorkerArgs,
}

/// Flags for `amboy serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:3000]
    #[arg(long, env = "AMBOY_LISTEN")]
    pub listen: Option<String>,
    /// Listen on a non-loopback address even though no token is configured
    /// (anyone who can reach it may do anything).
    #[arg(long)]
    pub allow_public_without_tokens: bool,
    /// Worker flags.
    #[command(flatten)]
    pub worker: WorkerArgs,
}

/// Flags for `amboy migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// Only say whether migrations are pending; change nothing.
    #[arg(long)]
    pub status: bool,
}

/// Flags for `amboy submit`.
#[derive(Debug, Clone, Args)]
pub struct SubmitArgs {
    /// The queue (created on first use).
    #[arg(long)]
    pub queue: String,
    /// The job type, e.g. noop, sleep, http, shell.
    #[arg(long = "type")]
    pub job_type: String,
    /// The payload, as JSON.
    #[arg(long, default_value = "{}")]
    pub payload: String,
    /// The job id; a UUIDv7 when absent.
    #[arg(long)]
    pub id: Option<String>,
    /// Start no sooner than this from now, e.g. 30s, 5m, 2h, 250ms.
    #[arg(long, allow_hyphen_values = true)]
    pub delay: Option<String>,
    /// Start by then or never (the job expires): a time (RFC 3339) or a
    /// duration from now, e.g. 10m.
    #[arg(long)]
    pub dispatch_by: Option<String>,
    /// Attempts before the job fails.
    #[arg(long, allow_hyphen_values = true)]
    pub max_attempts: Option<i32>,
    /// Higher runs first in priority queues.
    #[arg(long, allow_hyphen_values = true)]
    pub priority: Option<i32>,
    /// Longest an attempt may run, e.g. 30s.
    #[arg(long)]
    pub max_time: Option<String>,
    /// A job that must complete before this one runs (repeat, or separate
    /// ids with commas); until then the job is blocked.
    #[arg(long, value_delimiter = ',')]
    pub depends_on: Vec<String>,
    /// When a dependency ends without completing: fail this job too, or
    /// run it anyway.
    #[arg(long, value_parser = ["fail", "run"])]
    pub on_dependency_failure: Option<String>,
    /// amboy's dependency manager, as JSON: {"type":"create-file","path":P}
    /// skips the run when P exists; {"type":"local-file","targets":[…],
    /// "sources":[…]} skips it when every target is newer than every source.
    #[arg(long)]
    pub dependency: Option<String>,
    /// A dispatch scope: no two running jobs hold the same one (repeat, or
    /// separate with commas).
    #[arg(long, value_delimiter = ',')]
    pub scope: Vec<String>,
    /// An enqueue scope: no two unfinished jobs hold the same one (repeat,
    /// or separate with commas).
    #[arg(long, value_delimiter = ',')]
    pub enqueue_scope: Vec<String>,
    /// Print the stored job as JSON instead of its id.
    #[arg(long)]
    pub json: bool,
}

/// `amboy jobs …`
#[derive(Debug, Clone, Args)]
pub struct JobsArgs {
    /// Which.
    #[command(subcommand)]
    pub command: JobsCommand,
}

/// Job commands.
#[derive(Debug, Clone, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest id last, a page at a time.
    List(ListArgs),
    /// Show one job with its attempts and log.
    Show(ShowArgs),
    /// Run a failed, aborted or expired job again (a retrying one now).
    Retry(ShowArgs),
    /// Abort a waiting job, or stop a running one.
    Abort(ShowArgs),
    /// Mark a job that is not running completed.
    Complete(ShowArgs),
    /// Delete a job that is not running.
    Delete(ShowArgs),
    /// Wait until a job finishes; exits 1 unless it completed.
    Wait(WaitArgs),
}

/// Flags for `amboy watch`.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Print each stream message as a line of JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many stats snapshots (one a second); run until
    /// interrupted when absent.
    #[arg(long)]
    pub count: Option<u64>,
}

/// Flags for `amboy jobs wait`.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// The job id.
    pub id: String,
    /// Longest wait, e.g. 30s, 5m (at most 5m).
    #[arg(long, default_value = "30s")]
    pub timeout: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `amboy queues …`
#[derive(Debug, Clone, Args)]
pub struct QueuesArgs {
    /// Which.
    #[command(subcommand)]
    pub command: QueuesCommand,
}

/// Queue commands.
#[derive(Debug, Clone, Subcommand)]
pub enum QueuesCommand {
    /// List queues with their jobs by state.
    List(JsonArgs),
    /// Stop handing out a queue's jobs (running ones finish).
    Pause(NamedArgs),
    /// Hand out a queue's jobs again.
    Resume(NamedArgs),
    /// Change a queue's settings (creating it if needed); the queue stops
    /// following its rule.
    Set(QueueSetArgs),
    /// List the queue rules (queue groups): new queues take the settings
    /// of the first rule their name matches.
    Rules(JsonArgs),
    /// Add a queue rule, or change the one with this pattern.
    RuleAdd(RuleAddArgs),
    /// Delete a queue rule.
    RuleDelete(RuleDeleteArgs),
}

/// Flags for `amboy queues set`.
#[derive(Debug, Clone, Args)]
pub struct QueueSetArgs {
    /// The queue.
    pub name: String,
    /// The settings to change.
    #[command(flatten)]
    pub settings: SettingsFlags,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Queue settings as flags; those not given are left as they are (or, for
/// a rule, take their defaults).
#[derive(Debug, Clone, Args)]
pub struct SettingsFlags {
    /// Workers per process.
    #[arg(long)]
    pub concurrency: Option<i32>,
    /// fifo or priority.
    #[arg(long)]
    pub ordering: Option<String>,
    /// How long a claim holds a job without renewal, e.g. 30s.
    #[arg(long)]
    pub lock_timeout: Option<String>,
    /// Jobs started per second in each process, or `none`.
    #[arg(long)]
    pub rate_limit: Option<String>,
    /// Keep at most this many finished jobs, or `none`.
    #[arg(long)]
    pub retention_max_jobs: Option<String>,
    /// Keep finished jobs at most this long (e.g. 7d, 12h), or `none`.
    #[arg(long)]
    pub retention_max_age: Option<String>,
    /// Delete the queue once it has had no jobs for this long (e.g. 10m),
    /// or `none`.
    #[arg(long)]
    pub idle_ttl: Option<String>,
}

/// Flags for `amboy queues rule-add`.
#[derive(Debug, Clone, Args)]
pub struct RuleAddArgs {
    /// A regular expression over the whole queue name, e.g. 'tenant-.*'.
    pub pattern: String,
    /// The settings queues matching it are created with (the rest take
    /// their defaults).
    #[command(flatten)]
    pub settings: SettingsFlags,
    /// Where in the list (0 = first match); a new rule goes last, a
    /// changed one stays where it was.
    #[arg(long)]
    pub position: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags for `amboy queues rule-delete`.
#[derive(Debug, Clone, Args)]
pub struct RuleDeleteArgs {
    /// The rule's pattern, exactly as listed.
    pub pattern: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags for `amboy jobs list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only this queue.
    #[arg(long)]
    pub queue: Option<String>,
    /// Only this state (pending, running, completed, …).
    #[arg(long)]
    pub state: Option<String>,
    /// Only this job type.
    #[arg(long = "type")]
    pub job_type: Option<String>,
    /// Only ids starting with this.
    #[arg(long)]
    pub id_prefix: Option<String>,
    /// Newest first (ids descending) instead of oldest first.
    #[arg(long)]
    pub newest_first: bool,
    /// Continue after this id (the last id of the previous page).
    #[arg(long)]
    pub after: Option<String>,
    /// Page size, 1–1000.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags for `amboy jobs show`.
#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    /// The job id.
    pub id: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `amboy schedules …`
#[derive(Debug, Clone, Args)]
pub struct SchedulesArgs {
    /// Which.
    #[command(subcommand)]
    pub command: SchedulesCommand,
}

/// Schedule commands.
#[derive(Debug, Clone, Subcommand)]
pub enum SchedulesCommand {
    /// List schedules with their next and last fire.
    List(JsonArgs),
    /// Show one schedule with its recent skips and duplicates.
    Show(NamedArgs),
    /// Create a schedule.
    Add(ScheduleArgs),
    /// Change a schedule: flags given replace the current values.
    Edit(ScheduleArgs),
    /// Start firing again, from the next fire time after now.
    Enable(NamedArgs),
    /// Stop firing.
    Disable(NamedArgs),
    /// Delete a schedule (its jobs stay).
    Delete(NamedArgs),
    /// Put the schedule's job now, outside its spec.
    Run(NamedArgs),
    /// The next fire times, in the schedule's time zone.
    Next(NextArgs),
}

/// Just `--json`.
#[derive(Debug, Clone, Args)]
pub struct JsonArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A name and `--json`.
#[derive(Debug, Clone, Args)]
pub struct NamedArgs {
    /// The schedule's or queue's name.
    pub name: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags for `amboy schedules next`.
#[derive(Debug, Clone, Args)]
pub struct NextArgs {
    /// The schedule's name.
    pub name: String,
    /// How many fire times, 1–100.
    #[arg(long, default_value_t = 5)]
    pub count: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags for `amboy schedules add|edit`.
#[derive(Debug, Clone, Args)]
pub struct ScheduleArgs {
    /// The schedule's name (letters, digits, - _ . :).
    pub name: String,
    /// The queue its jobs go to (required by add).
    #[arg(long)]
    pub queue: Option<String>,
    /// The job type (required by add).
    #[arg(long = "type")]
    pub job_type: Option<String>,
    /// The payload template, as JSON; `{{fire_time}}` and `{{schedule}}`
    /// in strings are filled in at each fire [add's default: {}]
    #[arg(long)]
    pub payload: Option<String>,
    /// A cron expression: 5 fields (minute hour day-of-month month
    /// day-of-week), or 6/7 with seconds first and years last.
    #[arg(long, conflicts_with = "every", allow_hyphen_values = true)]
    pub cron: Option<String>,
    /// The IANA time zone the cron expression is read in [default: UTC]
    #[arg(long)]
    pub timezone: Option<String>,
    /// Fire every this long, e.g. 30s, 5m, 1h (instead of --cron).
    #[arg(long, allow_hyphen_values = true)]
    pub every: Option<String>,
    /// Align an interval to this time (RFC 3339) [default: now]
    #[arg(long, requires = "every")]
    pub start: Option<String>,
    /// allow, skip-if-unfinished, or threshold:N (skip while the queue
    /// has more than N pending jobs) [add's default: allow]
    #[arg(long)]
    pub overlap: Option<String>,
    /// skip, fire-once or fire-all: what to do with fire times missed
    /// while no scheduler ran [add's default: fire-once]
    #[arg(long)]
    pub misfire: Option<String>,
    /// Priority of its jobs.
    #[arg(long, allow_hyphen_values = true)]
    pub priority: Option<i32>,
    /// Attempts its jobs get.
    #[arg(long, allow_hyphen_values = true)]
    pub max_attempts: Option<i32>,
    /// Longest an attempt of its jobs may run, e.g. 30s.
    #[arg(long)]
    pub max_time: Option<String>,
    /// Create it disabled.
    #[arg(long)]
    pub disabled: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `amboy report …`
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Which.
    #[command(subcommand)]
    pub command: ReportCommand,
}

/// Reports.
#[derive(Debug, Clone, Subcommand)]
pub enum ReportCommand {
    /// Jobs by queue, type and state.
    Counts(CountsArgs),
    /// Recent errors grouped by job type and message.
    Errors(ErrorsArgs),
    /// Queue latency and run duration percentiles by job type.
    Timing(TimingArgs),
}

/// Flags for `amboy report timing`.
#[derive(Debug, Clone, Args)]
pub struct TimingArgs {
    /// How far back, e.g. 15m, 1h, 7d.
    #[arg(long, default_value = "1h")]
    pub window: String,
    /// Only this queue.
    #[arg(long)]
    pub queue: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags for `amboy report counts`.
#[derive(Debug, Clone, Args)]
pub struct CountsArgs {
    /// Only this queue.
    #[arg(long)]
    pub queue: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags for `amboy report errors`.
#[derive(Debug, Clone, Args)]
pub struct ErrorsArgs {
    /// How far back, e.g. 15m, 1h, 7d.
    #[arg(long, default_value = "1h")]
    pub window: String,
    /// Most groups, 1–1000.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}
