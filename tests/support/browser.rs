//! Debian's chromium, headless, driven through chromedriver (WebDriver, by fantoccini): the
//! browser of the account-page and sign-in tests.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver (`source scripts/setup.sh &&
//! setup_chromium`); missing, it is a failure, never a skip. chromedriver's log goes to
//! tests/artifacts/.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fantoccini::{Client, ClientBuilder};
use jiff::Timestamp;
use serde_json::json;

use crate::process::{Process, artifacts, free_port, wait_until_ready};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// One browser at a time: two cores, and each test has its own dev server and chromium.
pub static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct Browser {
    pub client: Client,
    _driver: Process,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Browser {
    /// A fresh profile, English, in the time zone `tz` (inherited from chromedriver).
    pub async fn start(name: &str, tz: &str) -> Self {
        for (path, what) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromedriver")] {
            assert!(
                Path::new(path).exists(),
                "{what} is missing at {path}: the browser tests need Debian's chromium and \
                 chromium-driver. Install them with `source scripts/setup.sh && setup_chromium` \
                 (scripts/test.sh does)."
            );
        }
        let port = free_port();
        let log = std::fs::File::create(artifacts().join(format!("{name}-chromedriver.log")))
            .expect("chromedriver log");
        let driver = Process::spawn(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .env("TZ", tz)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("a log file handle"))
                .stderr(log),
            CHROMEDRIVER,
        );
        let webdriver = format!("http://127.0.0.1:{port}");
        wait_until_ready(&format!("{webdriver}/status")).await;

        let profile = std::env::temp_dir().join(format!(
            "browser-{name}-{}-{}",
            std::process::id(),
            Timestamp::now().as_nanosecond()
        ));
        std::fs::create_dir_all(&profile).expect("browser profile dir");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--disable-quic",
                    "--disable-dev-shm-usage",
                    "--lang=en-US",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|e| panic!("start chromium through chromedriver: {e}"));
        // Tall enough for the whole demo list in one screenshot.
        client
            .set_window_size(1280, 2000)
            .await
            .expect("window size");
        Self {
            client,
            _driver: driver,
            profile,
        }
    }
}
