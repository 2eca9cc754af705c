//! The compiled dev server (`target/debug/dev-server`) as the browser and sign-in tests start
//! it: PORT=0, the embedded OmniLab sandbox with the demo data, and only the sign-in settings
//! the test gives (none of the developer's shell leaks in).
//!
//! Needs the binary built and current (`cargo build -p dev-server`, or `--workspace --bins
//! --all-features` as scripts/test.sh does): missing, it is a failure, never a skip.

use std::path::PathBuf;
use std::process::Command;

use crate::process::Announced;

/// Every variable the dev server reads its sign-in and upstream from: cleared before a test's
/// own are set.
const SETTINGS: &[&str] = &[
    "OMNILAB_API_HOST",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "EXTERNAL_ID_CLAIM",
    "LIST_SCOPES",
    "CANCEL_SCOPES",
    "OIDC_CLIENT_ID",
    "OIDC_SCOPE",
    "OIDC_TOKEN",
    "OIDC_EXTRA_PARAMS",
];

pub struct DevServer {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub base: String,
    process: Announced,
}

impl DevServer {
    /// The demo sign-in: no issuer configured.
    pub fn demo(name: &str) -> Self {
        Self::start(name, &[])
    }

    /// A dev server with `env` on top of a clean environment; its logs are kept as
    /// tests/artifacts/`name`-dev-server.log.
    pub fn start(name: &str, env: &[(&str, &str)]) -> Self {
        let binary = binary();
        assert!(
            binary.exists(),
            "{} is missing: build it first with `cargo build -p dev-server` (or \
             `cargo build --workspace --bins --all-features`, as scripts/test.sh does; a plain \
             `cargo build` builds only the default members)",
            binary.display()
        );
        let mut command = Command::new(&binary);
        command.env("PORT", "0");
        for name in SETTINGS {
            command.env_remove(name);
        }
        command.envs(env.iter().copied());
        // "OmniLab Bookings dev server: open http://127.0.0.1:PORT/", after any warning.
        const READY: &str = "OmniLab Bookings dev server: open ";
        let process = Announced::start(command, &format!("{name}-dev-server"), READY);
        let base = process.ready_line[READY.len()..]
            .trim_end_matches('/')
            .to_owned();
        Self { base, process }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server and returns everything it printed and logged.
    pub fn stop(self) -> String {
        self.process.stop()
    }

    /// The page is compiled into the binary (include_str!): a binary older than the files under
    /// dev-server/page would test yesterday's page, so compare them first.
    pub async fn assert_serves_current_page(&self, http: &reqwest::Client) {
        let sources = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dev-server/page");
        for (path, file) in [
            ("/", "index.html"),
            ("/app.js", "app.js"),
            ("/style.css", "style.css"),
        ] {
            let source = std::fs::read_to_string(sources.join(file))
                .unwrap_or_else(|e| panic!("read dev-server/page/{file}: {e}"));
            let response = http
                .get(self.url(path))
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {path}: {e}"));
            assert!(
                response.status().is_success(),
                "GET {path}: {}",
                response.status()
            );
            let served = response.text().await.expect("a text body");
            assert!(
                served == source,
                "the dev server serves an older dev-server/page/{file}: rebuild it with \
                 `cargo build -p dev-server`"
            );
        }
    }
}

fn binary() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| PathBuf::from(dir).join("debug/dev-server"))
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/dev-server")
        })
}
