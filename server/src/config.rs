//! Configuration: command-line flags and environment (through clap) over an
//! optional TOML file over built-in defaults, merged once in `run`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use amboy::store::{DEFAULT_POSTGRES_POOL, StoreOptions};
use anyhow::Context as _;
use serde::Deserialize;
use tracing_subscriber::EnvFilter;

use crate::cli::{GlobalArgs, LogFormat, ServeArgs, WorkerArgs, WorkerCommandArgs};

/// The database when none is configured: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://amboy.db?mode=rwc";
/// Where `amboy serve` listens when not told.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";
/// Log filter when neither `--log` nor `RUST_LOG` is set.
pub const DEFAULT_LOG: &str = "info";
/// How long running jobs get to finish at shutdown.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The optional TOML file: every key may be left out.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// See `--database-url`.
    pub database_url: Option<String>,
    /// See `--database-pool`.
    pub database_pool: Option<u32>,
    /// Tokens that may read (also `AMBOY_VIEWER_TOKEN`, comma-separated).
    pub viewer_tokens: Option<Vec<String>>,
    /// Tokens that may read and change (also `AMBOY_OPERATOR_TOKEN`).
    pub operator_tokens: Option<Vec<String>>,
    /// See `--listen`.
    pub listen: Option<String>,
    /// See `amboy worker --metrics-listen`.
    pub metrics_listen: Option<String>,
    /// See `--log`.
    pub log: Option<String>,
    /// See `--log-format`.
    pub log_format: Option<LogFormat>,
    /// See `--enable-shell-jobs`.
    pub enable_shell_jobs: Option<bool>,
    /// See `--queues`.
    pub queues: Option<Vec<String>>,
    /// See `--shutdown-timeout-secs`.
    pub shutdown_timeout_secs: Option<u64>,
}

// By hand: tokens must never reach a log.
impl std::fmt::Debug for FileConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = |tokens: &Option<Vec<String>>| tokens.as_ref().map_or(0, Vec::len);
        f.debug_struct("FileConfig")
            .field(
                "database_url",
                &self.database_url.as_deref().map(crate::serve::redact),
            )
            .field("listen", &self.listen)
            .field("viewer_tokens", &count(&self.viewer_tokens))
            .field("operator_tokens", &count(&self.operator_tokens))
            .finish_non_exhaustive()
    }
}

/// The merged configuration.
pub struct Config {
    /// The database URL.
    pub database_url: String,
    /// The server the client commands talk to.
    pub url: String,
    /// How to connect to it.
    pub store: StoreOptions,
    /// The log filter.
    pub log: String,
    /// The log format.
    pub log_format: LogFormat,
    file: FileConfig,
}

// By hand: the database URL may hold a password.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &crate::serve::redact(&self.database_url))
            .field("url", &self.url)
            .field("store", &self.store)
            .field("log", &self.log)
            .field("log_format", &self.log_format)
            .field("file", &self.file)
            .finish()
    }
}

/// What a worker process (serve or worker) runs with.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Queues to work; all when `None`.
    pub queues: Option<Vec<String>>,
    /// Whether `shell` jobs may run.
    pub enable_shell_jobs: bool,
    /// How long running jobs get at shutdown.
    pub shutdown_timeout: Duration,
}

impl Config {
    /// Merges flags/env over the TOML file (when given) over defaults.
    pub fn load(args: &GlobalArgs) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let log = args
            .log
            .clone()
            .or_else(|| file.log.clone())
            .or_else(|| std::env::var("RUST_LOG").ok())
            .unwrap_or_else(|| DEFAULT_LOG.to_owned());
        Ok(Config {
            database_url: args
                .database_url
                .clone()
                .or_else(|| file.database_url.clone())
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            url: args
                .url
                .clone()
                .unwrap_or_else(|| crate::client::DEFAULT_URL.to_owned()),
            store: StoreOptions {
                postgres_pool: args
                    .database_pool
                    .or(file.database_pool)
                    .unwrap_or(DEFAULT_POSTGRES_POOL),
            },
            log,
            log_format: args
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Pretty),
            file,
        })
    }

    /// The API's tokens: the environment's (`AMBOY_VIEWER_TOKEN`,
    /// `AMBOY_OPERATOR_TOKEN`, comma-separated) over the file's.
    pub fn auth(&self) -> crate::api::auth::Auth {
        let tokens = |env: &str, file: &Option<Vec<String>>| -> Vec<String> {
            match std::env::var(env) {
                Ok(list) => list.split(',').map(str::to_owned).collect(),
                Err(_) => file.clone().unwrap_or_default(),
            }
        };
        crate::api::auth::Auth::new(
            &tokens("AMBOY_VIEWER_TOKEN", &self.file.viewer_tokens),
            &tokens("AMBOY_OPERATOR_TOKEN", &self.file.operator_tokens),
        )
    }

    /// The address `amboy serve` listens on.
    pub fn listen(&self, args: &ServeArgs) -> anyhow::Result<SocketAddr> {
        let text = args
            .listen
            .clone()
            .or_else(|| self.file.listen.clone())
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        text.parse()
            .with_context(|| format!("--listen {text:?} is not an address like 127.0.0.1:3000"))
    }

    /// Where `amboy worker` serves its metrics, if anywhere.
    pub fn metrics_listen(&self, args: &WorkerCommandArgs) -> anyhow::Result<Option<SocketAddr>> {
        let Some(text) = args
            .metrics_listen
            .clone()
            .or_else(|| self.file.metrics_listen.clone())
        else {
            return Ok(None);
        };
        text.parse().map(Some).with_context(|| {
            format!("--metrics-listen {text:?} is not an address like 127.0.0.1:9464")
        })
    }

    /// What the workers run with.
    pub fn worker(&self, args: &WorkerArgs) -> WorkerConfig {
        WorkerConfig {
            queues: args.queues.clone().or_else(|| self.file.queues.clone()),
            enable_shell_jobs: args.enable_shell_jobs
                || self.file.enable_shell_jobs.unwrap_or(false),
            shutdown_timeout: args
                .shutdown_timeout_secs
                .or(self.file.shutdown_timeout_secs)
                .map_or(DEFAULT_SHUTDOWN_TIMEOUT, Duration::from_secs),
        }
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}

/// Installs the log subscriber: the filter from the config, pretty or JSON.
pub fn init_tracing(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log)
        .with_context(|| format!("--log {:?} is not a valid filter", config.log))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match config.log_format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // A second init (tests running several commands) keeps the first.
    let _ = result;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(config: Option<&Path>) -> GlobalArgs {
        GlobalArgs {
            config: config.map(Path::to_path_buf),
            ..GlobalArgs::default()
        }
    }

    #[test]
    fn flags_beat_the_file_which_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("amboy.toml");
        std::fs::write(
            &path,
            "database_url = \"sqlite::memory:\"\nlisten = \"127.0.0.1:4000\"\ndatabase_pool = 20\n\
             operator_tokens = [\"op-secret\"]\n",
        )
        .unwrap();
        let config = Config::load(&global(Some(&path))).unwrap();
        assert_eq!(config.database_url, "sqlite::memory:");
        assert_eq!(config.store.postgres_pool, 20);
        if std::env::var_os("AMBOY_OPERATOR_TOKEN").is_none() {
            let auth = config.auth();
            assert_eq!(
                auth.role_of_token("op-secret"),
                Some(crate::api::auth::Role::Operator)
            );
        }
        let serve = ServeArgs {
            listen: None,
            allow_public_without_tokens: false,
            worker: WorkerArgs {
                queues: None,
                enable_shell_jobs: false,
                shutdown_timeout_secs: None,
            },
        };
        assert_eq!(config.listen(&serve).unwrap().port(), 4000);
        let flagged = ServeArgs {
            listen: Some("127.0.0.1:5000".into()),
            ..serve.clone()
        };
        assert_eq!(config.listen(&flagged).unwrap().port(), 5000);
        let mut args = global(Some(&path));
        args.database_url = Some("sqlite://x.db".into());
        args.database_pool = Some(3);
        let flagged = Config::load(&args).unwrap();
        assert_eq!(flagged.database_url, "sqlite://x.db");
        assert_eq!(flagged.store.postgres_pool, 3);
        let defaults = Config::load(&global(None)).unwrap();
        assert_eq!(defaults.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(defaults.store, StoreOptions::default());
    }

    #[test]
    fn the_worker_metrics_address_is_optional_and_checked() {
        let config = Config::load(&global(None)).unwrap();
        let worker = |metrics_listen: Option<&str>| WorkerCommandArgs {
            metrics_listen: metrics_listen.map(str::to_owned),
            allow_public_without_tokens: false,
            worker: WorkerArgs {
                queues: None,
                enable_shell_jobs: false,
                shutdown_timeout_secs: None,
            },
        };
        assert_eq!(config.metrics_listen(&worker(None)).unwrap(), None);
        let addr = config
            .metrics_listen(&worker(Some("127.0.0.1:9464")))
            .unwrap();
        assert_eq!(addr.map(|a| a.port()), Some(9464));
        let err = config
            .metrics_listen(&worker(Some("everywhere")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--metrics-listen \"everywhere\""), "{err}");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("amboy.toml");
        std::fs::write(
            &path,
            "database_url = \"postgres://amboy:db-password@db/amboy\"\n\
             operator_tokens = [\"op-secret-token\"]\n",
        )
        .unwrap();
        let config = Config::load(&global(Some(&path))).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("db-password"), "{shown}");
        assert!(!shown.contains("op-secret-token"), "{shown}");
        assert!(shown.contains("operator_tokens: 1"), "{shown}");
    }

    #[test]
    fn a_bad_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("amboy.toml");
        std::fs::write(&path, "listen_on = 3\n").unwrap();
        let err = format!("{:#}", Config::load(&global(Some(&path))).unwrap_err());
        assert!(err.contains("unknown field `listen_on`"), "{err}");
        let missing = dir.path().join("nope.toml");
        let err = format!("{:#}", Config::load(&global(Some(&missing))).unwrap_err());
        assert!(err.contains("reading config file"), "{err}");
    }
}
