//! Running the real `amboy` binary in tests: a child process whose log is
//! kept (for failure messages) and read for the line that says where it
//! listens, so tests bind port 0 and never guess.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// How long a process gets to say where it listens.
const STARTUP: Duration = Duration::from_secs(60);

/// An `amboy` process, killed when dropped.
pub struct Amboy {
    child: Child,
    log: Arc<Mutex<String>>,
    /// `http://ADDR` taken from its announcement.
    pub url: String,
}

impl Amboy {
    /// Starts `amboy ARGS` with `env` on top of a clean environment (no
    /// config file, tokens or URLs inherited) and waits for the log line
    /// holding `announces` followed by `http://ADDR`.
    pub fn start(args: &[&str], env: &[(&str, &str)], announces: &str) -> Amboy {
        let mut command = Command::new(env!("CARGO_BIN_EXE_amboy"));
        command
            .args(args)
            .env("AMBOY_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        for var in [
            "AMBOY_CONFIG",
            "AMBOY_OPERATOR_TOKEN",
            "AMBOY_VIEWER_TOKEN",
            "AMBOY_URL",
            "AMBOY_TOKEN",
            "RUST_LOG",
        ] {
            command.env_remove(var);
        }
        command.envs(env.iter().copied());
        let mut child = command.spawn().expect("start amboy");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (found, announced) = mpsc::channel();
        let marker = format!("{announces}http://");
        let kept = log.clone();
        // Keep reading to the end, so the process never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find(&marker) {
                    let rest = &line[at + marker.len()..];
                    let host = &rest[..rest.find(['"', ' ', '/', '\\']).unwrap_or(rest.len())];
                    let _ = found.send(format!("http://{host}"));
                }
                let mut kept = kept.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        let url = announced.recv_timeout(STARTUP).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "amboy {args:?} did not announce {announces:?}; log:\n{}",
                log.lock().unwrap()
            )
        });
        Amboy { child, log, url }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGKILL: no shutdown, no goodbye to the database.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Amboy {
    fn drop(&mut self) {
        self.kill();
    }
}
