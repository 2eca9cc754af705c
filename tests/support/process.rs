//! The processes the end-to-end tests start beside them: the dev server (its logs kept for the
//! test to read), chromium through chromedriver, and the OpenID provider from npm. Each is
//! killed when its handle drops, so a failing test leaves nothing running.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Where the tests leave screenshots and logs: tests/artifacts/ (gitignored).
pub fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&dir).expect("create tests/artifacts");
    dir
}

/// A child process killed (by its id) when dropped.
pub struct Process {
    child: Child,
}

impl Process {
    pub fn spawn(command: &mut Command, what: &str) -> Self {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        Self { child }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A process that says on stdout when it is ready (and where), in a line that starts with a
/// known text: all of stdout and stderr go to files in tests/artifacts/, so it never blocks on
/// a full pipe and the test can read what it logged.
pub struct Announced {
    /// The line that said so, trimmed.
    pub ready_line: String,
    process: Process,
    logs: [PathBuf; 2],
    copiers: Vec<JoinHandle<()>>,
}

impl Announced {
    /// Starts `command` (its stdio is set here) and waits up to 30 s for a line that starts
    /// with `ready`.
    pub fn start(mut command: Command, name: &str, ready: &'static str) -> Self {
        let dir = artifacts();
        let logs = [
            dir.join(format!("{name}.log")),
            dir.join(format!("{name}.stderr.log")),
        ];
        let mut process = Process::spawn(
            command
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
            name,
        );
        let stdout = process.child.stdout.take().expect("piped stdout");
        let stderr = process.child.stderr.take().expect("piped stderr");
        let (ready_line, announced) = mpsc::channel();
        let out_log = logs[0].clone();
        let err_log = logs[1].clone();
        let copiers = vec![
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stdout);
                let mut file = std::fs::File::create(&out_log).expect("a log file");
                let mut line = String::new();
                while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                    let _ = file.write_all(line.as_bytes());
                    if line.starts_with(ready) {
                        let _ = ready_line.send(line.clone());
                        break;
                    }
                    line.clear();
                }
                let _ = std::io::copy(&mut reader, &mut file);
            }),
            std::thread::spawn(move || drain(stderr, &err_log)),
        ];
        let line = announced
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "{name} did not print {ready:?} within 30 s (its logs: {} and {})",
                    logs[0].display(),
                    logs[1].display()
                )
            });
        Self {
            ready_line: line.trim().to_owned(),
            process,
            logs,
            copiers,
        }
    }

    /// Stops the process and returns everything it wrote, stdout then stderr.
    pub fn stop(mut self) -> String {
        self.process.stop();
        for copier in self.copiers.drain(..) {
            let _ = copier.join();
        }
        self.logs
            .iter()
            .map(|path| std::fs::read_to_string(path).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn drain(mut from: impl Read, to: &Path) {
    if let Ok(mut file) = std::fs::File::create(to) {
        let _ = std::io::copy(&mut from, &mut file);
    }
}

/// A loopback port free a moment ago, for a process that must know its port before it starts.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Polls a WebDriver `/status` until it says ready.
pub async fn wait_until_ready(status_url: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = match http
            .get(status_url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
        {
            Ok(response) => response.json::<Value>().await.ok(),
            Err(_) => None,
        };
        if ready.is_some_and(|body| body["value"]["ready"] == json!(true)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not answer {status_url} within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
