//! The benchmark: the release binaries under a local Lambda Runtime API, against the OmniLab
//! sandbox, moto's Secrets Manager and DynamoDB Local. Prints a markdown table with each figure
//! and its target.
//!
//! Run it with `scripts/bench.sh` (it builds the release binaries and starts moto and DynamoDB
//! Local).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use bookings::config::UpstreamPolicy;
use bookings_tests::dynamodb::TokenTable;
use bookings_tests::runtime_api::{Function, Launch, RuntimeApi, binary};
use bookings_tests::tls::TlsWorld;
use bookings_tests::{DEMO_CUSTOMER, World, cancel_event, demo_start, function_env, list_event};
use sandbox::SandboxData;
use sandbox::tls::{Presented, Protocols};
use sandbox::wire::{TokenAnswer, TokenRequest};
use serde_json::Value;

const CONTACT: &str = "bench-contact";

struct Row {
    figure: String,
    measured: String,
    target: &'static str,
    ok: bool,
}

/// The function's settings against `world`, logging at INFO as the template deploys it (each
/// request's log line is part of what Lambda bills).
fn env_for(world: &World) -> Vec<(&'static str, String)> {
    let mut env = function_env(world);
    env.push(("AWS_LAMBDA_LOG_LEVEL", "info".into()));
    env
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn new_world(bookings: u32) -> World {
    let data = SandboxData::demo(demo_start()).with_many(CONTACT, bookings, demo_start());
    World::with(data, UpstreamPolicy::default()).await
}

/// The benchmark customer's `GET /bookings?{query}`.
fn page(query: &str) -> Value {
    list_event(CONTACT).query(query).json()
}

/// Time the sandbox itself takes to answer one page, seen from a client on the same machine:
/// what the function adds is measured on top of this.
async fn upstream_alone(world: &World, query: &str, runs: usize) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let base = format!("http://{}", world.sandbox_addr);
    let token: TokenAnswer = client
        .post(format!("{base}/v1/oauth:token"))
        .json(&token_request())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token.access_token;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let page = client
            .get(format!(
                "{base}/v1/interactions:fetchContactBookings?external_id={CONTACT}&{query}"
            ))
            .bearer_auth(&token);
        assert!(body_length(page).await > 0);
        times.push(started.elapsed());
    }
    times.sort();
    times
}

/// The length of `request`'s answer, read to its end.
async fn body_length(request: reqwest::RequestBuilder) -> usize {
    let answer = request.send().await.expect("the sandbox answers");
    answer.bytes().await.expect("a whole body").len()
}

/// The sandbox's client-credentials exchange, as our functions send it.
fn token_request() -> TokenRequest {
    TokenRequest::for_credentials(&sandbox::Sandbox::default_credentials())
}

/// The median of 21 runs of `run`.
async fn median<F: std::future::Future<Output = ()>>(mut run: impl FnMut() -> F) -> Duration {
    let mut times = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        run().await;
        times.push(started.elapsed());
    }
    times.sort();
    percentile(&times, 0.5)
}

/// One `GetSecretValue` from an already warm SDK client: what moto itself costs.
async fn secret_round_trip(secret_id: &str) -> Duration {
    let client = bookings_tests::secrets::client().await;
    median(|| async {
        client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .unwrap();
    })
    .await
}

/// One token exchange from an already warm HTTP client.
async fn token_round_trip(world: &World) -> Duration {
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/oauth:token", world.sandbox_addr);
    let body = token_request();
    median(|| async {
        body_length(client.post(&url).json(&body)).await;
    })
    .await
}

/// Medians over cold starts of one function: wall time and CPU time (all threads) from process
/// start to the first `/next`, and of the first invocation (secret, token, a 50-booking page).
struct ColdStart {
    to_next: Duration,
    first: Duration,
    start_cpu: Duration,
    first_cpu: Duration,
}

async fn cold_starts(name: &str, runs: usize, wrapper: &[String]) -> ColdStart {
    let world = new_world(50).await;
    cold_starts_of(&binary(name), &env_for(&world), runs, wrapper).await
}

/// [`cold_starts`] of the `list-bookings` executable at `path`, configured by `env`.
async fn cold_starts_of(
    path: &Path,
    env: &[(&'static str, String)],
    runs: usize,
    wrapper: &[String],
) -> ColdStart {
    let (mut to_next, mut first, mut start_cpu, mut first_cpu) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        let runtime = RuntimeApi::start().await;
        let function = Launch::of("list-bookings")
            .build_at(path)
            .through(wrapper)
            .under(&runtime, env);
        let polled = function.ready(&runtime).await;
        to_next.push(polled - function.started);
        let at_poll = cpu(&function);
        let started = Instant::now();
        let response = runtime.invoke(page("page_size=50")).await.response();
        assert_eq!(response["statusCode"], 200, "{response}");
        first.push(started.elapsed());
        // Back at its next long poll: whatever the invocation started has run.
        tokio::time::sleep(Duration::from_millis(20)).await;
        start_cpu.push(at_poll);
        first_cpu.push(cpu(&function).saturating_sub(at_poll));
    }
    ColdStart {
        to_next: median_of(to_next),
        first: median_of(first),
        start_cpu: median_of(start_cpu),
        first_cpu: median_of(first_cpu),
    }
}

fn median_of(mut times: Vec<Duration>) -> Duration {
    times.sort();
    percentile(&times, 0.5)
}

/// The function's CPU time so far, all threads.
fn cpu(function: &Function) -> Duration {
    function.cpu_time().expect("the function's /proc entries")
}

/// Warm `GET /bookings` of a 50-booking page, `runs` times after one to warm up: the sorted
/// times, and the mean CPU time per request.
async fn warm_pages(
    world: &World,
    wrapper: &[String],
    runs: u32,
) -> (Vec<Duration>, Duration, f64, Function, RuntimeApi) {
    warm_pages_of(&binary("list-bookings"), &env_for(world), wrapper, runs).await
}

/// [`warm_pages`] of the `list-bookings` executable at `path`, configured by `env`.
async fn warm_pages_of(
    path: &Path,
    env: &[(&'static str, String)],
    wrapper: &[String],
    runs: u32,
) -> (Vec<Duration>, Duration, f64, Function, RuntimeApi) {
    let runtime = RuntimeApi::start().await;
    let function = Launch::of("list-bookings")
        .build_at(path)
        .through(wrapper)
        .under(&runtime, env);
    runtime.invoke(page("page_size=50")).await.response();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = cpu(&function);
    let writes_before = function.write_calls().unwrap_or(0);
    let mut warm = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let response = runtime.invoke(page("page_size=50")).await.response();
        warm.push(started.elapsed());
        assert_eq!(response["statusCode"], 200);
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let per_request = cpu(&function).saturating_sub(before) / runs;
    let writes = function
        .write_calls()
        .unwrap_or(0)
        .saturating_sub(writes_before);
    warm.sort();
    (
        warm,
        per_request,
        writes as f64 / f64::from(runs),
        function,
        runtime,
    )
}

/// The function's peak resident memory (kB) once `runtime` has handed it `count` more
/// `GET /bookings?{query}`.
async fn peak_rss_after(function: &Function, runtime: &RuntimeApi, count: u32, query: &str) -> u64 {
    for _ in 0..count {
        runtime.invoke(page(query)).await.response();
    }
    function.peak_rss_kb().unwrap_or(0)
}

/// Lambda's list price for arm64 duration (us-east-1, first tier): USD per GB-second.
const ARM64_PRICE_PER_GB_SECOND: f64 = 0.000_013_333_4;

/// What a million requests of these durations cost in duration charges at `memory` MB: each
/// request billed in whole milliseconds, rounded up, as Lambda bills.
fn price_per_million(memory: u32, times: &[Duration]) -> f64 {
    let billed_ms: f64 = times
        .iter()
        .map(|t| (t.as_secs_f64() * 1000.0).ceil())
        .sum::<f64>()
        / times.len().max(1) as f64;
    f64::from(memory) / 1024.0 * billed_ms / 1000.0 * ARM64_PRICE_PER_GB_SECOND * 1_000_000.0
}

fn mean(times: &[Duration]) -> Duration {
    times.iter().sum::<Duration>() / u32::try_from(times.len().max(1)).unwrap_or(u32::MAX)
}

/// `scripts/cpu-share.sh <memory>`, when this machine lets us hold a process to a CPU share.
fn cpu_share(memory: u32) -> Option<Vec<String>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/cpu-share.sh");
    let works = std::process::Command::new(script)
        .args([memory.to_string().as_str(), "true"])
        .status()
        .is_ok_and(|status| status.success());
    works.then(|| vec![script.to_owned(), memory.to_string()])
}

fn zipped_size(path: &std::path::Path) -> u64 {
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import io,sys,zipfile\nb=io.BytesIO()\nz=zipfile.ZipFile(b,'w',zipfile.ZIP_DEFLATED,compresslevel=9)\nz.write(sys.argv[1],'bootstrap')\nz.close()\nprint(len(b.getvalue()))",
        ])
        .arg(path)
        .output()
        .expect("python3 zips");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    // The modes beside the whole benchmark: builds compared in turns, and the warm or cold
    // path alone, to profile.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = || PathBuf::from(args.get(1).expect("a directory holding list-bookings"));
    let count = |default: usize| args.get(2).map_or(default, |n| n.parse().expect("a count"));
    match args.first().map(String::as_str) {
        Some("--compare") => {
            return compare(&args[1..].iter().map(PathBuf::from).collect::<Vec<_>>()).await;
        }
        Some("--warm") => return warm_only(&dir(), count(2_000) as u32).await,
        Some("--cold") => return cold_only(&dir(), count(100)).await,
        _ => {}
    }
    let mut rows: Vec<Row> = Vec::new();
    let mb = |bytes: u64| format!("{:.2} MB", bytes as f64 / 1_000_000.0);

    // Binary sizes.
    for name in ["list-bookings", "cancel-booking"] {
        let path = binary(name);
        let size = std::fs::metadata(&path).unwrap().len();
        rows.push(Row {
            figure: format!("`{name}` binary (stripped; zipped)"),
            measured: format!("{}; {}", mb(size), mb(zipped_size(&path))),
            target: "<= 8 MB",
            ok: size <= 8_000_000,
        });
    }

    // Cold start: process start to the first /next, and the first invocation.
    let cold = cold_starts("list-bookings", 15, &[]).await;
    let (to_next, first) = (cold.to_next, cold.first);
    rows.push(Row {
        figure: "process start -> first `/next` (median of 15)".into(),
        measured: ms(to_next),
        target: "<= 10 ms",
        ok: to_next <= Duration::from_millis(10),
    });
    let (secret_trip, token_trip, page_trip) = {
        let world = new_world(50).await;
        (
            secret_round_trip(&world.secret_id).await,
            token_round_trip(&world).await,
            percentile(&upstream_alone(&world, "page_size=50", 50).await, 0.5),
        )
    };
    let trips = secret_trip + token_trip + page_trip;
    rows.push(Row {
        figure: format!(
            "first invocation after a cold start, median (its 3 round trips from a warm client: secret {} + token {} + page {})",
            ms(secret_trip),
            ms(token_trip),
            ms(page_trip)
        ),
        measured: format!("{}; {} over the round trips", ms(first), ms(first.saturating_sub(trips))),
        target: "<= 3 round trips + 5 ms",
        ok: first <= trips + Duration::from_millis(5),
    });
    rows.push(Row {
        figure: "CPU time, all threads, median of 15 cold starts: process start -> first `/next`; the first invocation".into(),
        measured: format!("{}; {}", ms(cold.start_cpu), ms(cold.first_cpu)),
        target: "measured (what Lambda bills)",
        ok: true,
    });

    // A new container's first request when the fleet's token is in the shared table.
    let (shared_first, shared_calls, get_item_trip, shared_cpu) =
        first_request_with_a_shared_token(15, &[]).await;
    rows.push(Row {
        figure: format!(
            "first invocation of a new container with the fleet's token in the shared table, median of 15 (its {shared_calls} round trips: GetItem {} + page {}; without the table: {} in 3)",
            ms(get_item_trip),
            ms(page_trip),
            ms(first)
        ),
        measured: format!(
            "{}; {} over the round trips",
            ms(shared_first),
            ms(shared_first.saturating_sub(get_item_trip + page_trip))
        ),
        target: "2 round trips, <= 2 round trips + 5 ms",
        ok: shared_calls == 2 && shared_first <= get_item_trip + page_trip + Duration::from_millis(5),
    });
    rows.push(Row {
        figure: "CPU time, all threads, of a new container's first invocation with the fleet's token in the shared table, median of 15".into(),
        measured: ms(shared_cpu),
        target: "measured (what Lambda bills)",
        ok: true,
    });
    let own = cold_fleet_exchanges(8, false).await;
    let shared = cold_fleet_exchanges(8, true).await;
    rows.push(Row {
        figure: "8 containers cold at the same moment (4 of each function): token exchanges, own token / shared table".into(),
        measured: format!("{own} / {shared}"),
        target: "8 / 1",
        ok: own == 8 && shared == 1,
    });

    // Warm latency of a 50-booking page, and memory.
    let world = new_world(50).await;
    let (warm, warm_cpu, warm_writes, function, runtime) = warm_pages(&world, &[], 300).await;
    let upstream = upstream_alone(&world, "page_size=50", 300).await;
    let added = |p| percentile(&warm, p).saturating_sub(percentile(&upstream, p));
    rows.push(Row {
        figure: format!(
            "warm `GET /bookings`, 50 bookings: p50 / p99 end to end (sandbox alone {} / {})",
            ms(percentile(&upstream, 0.5)),
            ms(percentile(&upstream, 0.99))
        ),
        measured: format!(
            "{} / {}; added {} / {}",
            ms(percentile(&warm, 0.5)),
            ms(percentile(&warm, 0.99)),
            ms(added(0.5)),
            ms(added(0.99))
        ),
        target: "added <= 1 ms / <= 3 ms",
        ok: added(0.5) <= Duration::from_millis(1) && added(0.99) <= Duration::from_millis(3),
    });
    rows.push(Row {
        figure: "CPU time, all threads, per warm `GET /bookings` of 50 bookings (mean of 300); write system calls per request (log, metrics, sockets)"
            .into(),
        measured: format!("{}; {warm_writes:.1}", ms(warm_cpu)),
        target: "measured (what Lambda bills)",
        ok: true,
    });
    let mib = |kb: u64| format!("{:.1} MB", kb as f64 / 1024.0);
    let after_300 = function.peak_rss_kb().unwrap_or(0);
    let after_3000 = peak_rss_after(&function, &runtime, 2_700, "page_size=50").await;
    rows.push(Row {
        figure: "peak resident memory (VmHWM) after 300 / 3,000 requests".into(),
        measured: format!("{} / {}", mib(after_300), mib(after_3000)),
        target: "<= 20 MB, flat",
        ok: after_300 <= 20 * 1024 && after_3000 <= after_300 + 1024,
    });
    // Every invocation has its own trace id (as in Lambda): lambda_runtime's `set_var` of each
    // kept about 165 bytes. The rest are refusals, which cost no upstream call: what grows, if
    // anything, is the runtime loop's.
    let after_100k = peak_rss_after(&function, &runtime, 97_000, "page_size=0").await;
    rows.push(Row {
        figure: "peak resident memory (VmHWM) after 100,000 invocations, each with its own trace id (the last 97,000 refusals)".into(),
        measured: format!(
            "{} ({:+} kB since 3,000)",
            mib(after_100k),
            after_100k as i64 - after_3000 as i64
        ),
        target: "flat: <= 3,000's + 0.5 MB",
        ok: after_100k <= after_3000 + 512,
    });
    drop(function);

    // all=true over 10 pages with 100 ms upstream latency.
    let world = new_world(1000).await;
    let runtime = RuntimeApi::start().await;
    let _function = Function::spawn("list-bookings", &runtime, &env_for(&world));
    runtime.invoke(page("page_size=100")).await.response();
    world.sandbox.set_latency(Duration::from_millis(100));
    let started = Instant::now();
    runtime.invoke(page("page_size=100")).await.response();
    let one_page = started.elapsed();
    let fetches = world.sandbox.counters().fetches;
    let started = Instant::now();
    let all = runtime.invoke(page("all=true")).await.response();
    let all_pages = started.elapsed();
    let body: Value = serde_json::from_str(all["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["bookings"].as_array().unwrap().len(), 1000);
    rows.push(Row {
        figure: format!(
            "`all=true`, 10 pages at 100 ms upstream latency ({} upstream calls)",
            world.sandbox.counters().fetches - fetches
        ),
        measured: format!(
            "{} = {:.1} x one page ({})",
            ms(all_pages),
            all_pages.as_secs_f64() / one_page.as_secs_f64(),
            ms(one_page)
        ),
        target: "<= 3 x one page",
        ok: all_pages <= one_page * 3,
    });

    // 64 concurrent requests on a cold cache, 8 runtime loops.
    let world = world_for_concurrency().await;
    let runtime = RuntimeApi::start().await;
    let mut env = env_for(&world);
    env.push(("AWS_LAMBDA_MAX_CONCURRENCY", "8".into()));
    let function = Function::spawn("list-bookings", &runtime, &env);
    for response in runtime
        .invoke_all((0..64).map(|_| page("page_size=50")))
        .await
    {
        assert_eq!(response["statusCode"], 200);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let upstream_calls: u64 = function
        .logs()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "request")
        .filter_map(|l| l["fields"]["upstream_calls"].as_u64())
        .sum();
    let counters = world.sandbox.counters();
    let secret_reads = upstream_calls - counters.fetches - counters.token_exchanges;
    rows.push(Row {
        figure: "64 concurrent cold requests, `AWS_LAMBDA_MAX_CONCURRENCY=8`: token exchanges / secret reads".into(),
        measured: format!("{} / {}", counters.token_exchanges, secret_reads),
        target: "1 / 1",
        ok: counters.token_exchanges == 1 && secret_reads == 1,
    });

    // The production transport. The same release code built with `test-tls` (so it
    // can trust the sandbox's authority; scripts/bench.sh builds it beside the deployed one),
    // over plain HTTP and over HTTPS (h2, TLS 1.3): the difference is what TLS costs.
    match tls_binary() {
        None => rows.push(Row {
            figure: "over HTTPS".into(),
            measured: "skipped: no test-tls release build (scripts/bench.sh makes one)".into(),
            target: "measured",
            ok: true,
        }),
        Some(path) => rows.extend(over_https(&path).await),
    }

    // The same figures with the CPU Lambda gives each memory size. The start-up figure
    // runs through the wrapper (bash, the cgroup files, moving the process into the group): its
    // own start, measured alone and unthrottled, is shown beside it, not taken off, since moving
    // a process between cgroups costs more than that measure shows.
    let wrapper_start = match cpu_share(1769) {
        Some(wrapper) => {
            let mut times = Vec::new();
            for _ in 0..7 {
                let started = Instant::now();
                let status = std::process::Command::new(&wrapper[0])
                    .args(&wrapper[1..])
                    .arg("true")
                    .status();
                assert!(status.is_ok_and(|s| s.success()));
                times.push(started.elapsed());
            }
            median_of(times)
        }
        None => Duration::ZERO,
    };
    for memory in [128, 256, 512, 1024] {
        let Some(wrapper) = cpu_share(memory) else {
            rows.push(Row {
                figure: format!("at {memory} MB's CPU share"),
                measured: "skipped: scripts/cpu-share.sh needs root and a cgroup v1 cpu controller"
                    .into(),
                target: "measured",
                ok: true,
            });
            continue;
        };
        let share = f64::from(memory) / 1769.0 * 100.0;
        let cold = cold_starts("list-bookings", 7, &wrapper).await;
        let (shared_first, _, _, _) = first_request_with_a_shared_token(7, &wrapper).await;
        let world = new_world(50).await;
        let (warm, warm_cpu, _, _function, _runtime) = warm_pages(&world, &wrapper, 100).await;
        rows.push(Row {
            figure: format!(
                "at {memory} MB's CPU share ({share:.1} % of a core, `scripts/cpu-share.sh {memory}`): start -> first `/next` through the wrapper (alone: {}); first invocation; first invocation with the shared token (medians of 7); warm 50-booking page p50 / mean / p99 of 100 (CPU per warm page); list price of the warm page's own billed duration per million requests",
                ms(wrapper_start)
            ),
            measured: format!(
                "{}; {}; {}; {} / {} / {} ({}); ${:.4}",
                ms(cold.to_next),
                ms(cold.first),
                ms(shared_first),
                ms(percentile(&warm, 0.5)),
                ms(mean(&warm)),
                ms(percentile(&warm, 0.99)),
                ms(warm_cpu),
                price_per_million(memory, &warm)
            ),
            target: "measured",
            ok: true,
        });
    }

    println!("| figure | measured | target | met |");
    println!("|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} |",
            row.figure,
            row.measured,
            row.target,
            if row.ok { "yes" } else { "**no**" }
        );
    }
}

/// `bench --compare <dir>...`: the CPU figures of several builds of `list-bookings` (each
/// `<dir>/list-bookings`), measured in turns in one run so that the machine's drift falls on all
/// of them alike: 31 rounds of one cold start each (start-up, first invocation), then 5 rounds
/// of 100 warm pages each. Prints the medians.
async fn compare(dirs: &[PathBuf]) {
    let world = new_world(50).await;
    let env = env_for(&world);
    let paths: Vec<PathBuf> = dirs.iter().map(|d| d.join("list-bookings")).collect();
    let mut start = vec![Vec::new(); paths.len()];
    let mut first = vec![Vec::new(); paths.len()];
    let mut sum = vec![Vec::new(); paths.len()];
    for _ in 0..31 {
        for (i, path) in paths.iter().enumerate() {
            let cold = cold_starts_of(path, &env, 1, &[]).await;
            start[i].push(cold.start_cpu);
            first[i].push(cold.first_cpu);
            sum[i].push(cold.start_cpu + cold.first_cpu);
        }
    }
    let mut warm = vec![Vec::new(); paths.len()];
    let mut writes = vec![Vec::new(); paths.len()];
    for _ in 0..9 {
        for (i, path) in paths.iter().enumerate() {
            let (_, cpu, calls, _f, _r) = warm_pages_of(path, &env, &[], 100).await;
            warm[i].push(cpu);
            writes[i].push(calls);
        }
    }
    println!(
        "| CPU time, all threads (medians) | start -> first `/next` | first invocation | the two together | warm 50-booking page | write calls per warm page |"
    );
    println!("|---|---|---|---|---|---|");
    for (i, dir) in dirs.iter().enumerate() {
        writes[i].sort_by(f64::total_cmp);
        println!(
            "| {} | {} | {} | {} | {:.3} ms | {:.1} |",
            dir.display(),
            ms(median_of(start[i].clone())),
            ms(median_of(first[i].clone())),
            ms(median_of(sum[i].clone())),
            // A warm page takes a fraction of a millisecond: to the microsecond, or the rounding
            // is a visible share of it.
            median_of(warm[i].clone()).as_secs_f64() * 1000.0,
            writes[i][writes[i].len() / 2]
        );
    }
}

/// `bench --warm <dir> [pages]`: one container of `<dir>/list-bookings` serving warm 50-booking
/// pages (2,000 by default) after its first, and its CPU per page. The process to profile:
/// `perf record -g -- target/release/bench --warm <dir>` spends nearly all its samples there.
/// On a busy machine CPU time is too noisy to compare small changes: `BENCH_WRAPPER` runs the
/// function under a command, such as `valgrind --tool=callgrind`, which counts instructions
/// whatever else runs; the function is then stopped with SIGTERM, so the tool writes its count.
async fn warm_only(dir: &Path, pages: u32) {
    let world = new_world(50).await;
    let wrapper: Vec<String> = std::env::var("BENCH_WRAPPER")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let (warm, cpu, writes, mut function, _runtime) = warm_pages_of(
        &dir.join("list-bookings"),
        &env_for(&world),
        &wrapper,
        pages,
    )
    .await;
    if let (false, Some(pid)) = (wrapper.is_empty(), function.child.id()) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let _ = tokio::time::timeout(Duration::from_secs(30), function.child.wait()).await;
    }
    println!(
        "{pages} warm 50-booking pages: CPU per page {}, p50 {}, {writes:.1} write calls per page",
        ms(cpu),
        ms(percentile(&warm, 0.5))
    );
}

/// `bench --cold <dir> [starts]`: cold starts of `<dir>/list-bookings` (100 by default), each
/// to its first 50-booking page and no further, and their median CPU. The processes to profile.
async fn cold_only(dir: &Path, starts: usize) {
    let world = new_world(50).await;
    let cold = cold_starts_of(&dir.join("list-bookings"), &env_for(&world), starts, &[]).await;
    println!(
        "{starts} cold starts: CPU start -> first `/next` {}, first invocation {}, together {}",
        ms(cold.start_cpu),
        ms(cold.first_cpu),
        ms(cold.start_cpu + cold.first_cpu)
    );
}

/// The `list-bookings` release build with `test-tls`, where scripts/bench.sh puts it.
fn tls_binary() -> Option<PathBuf> {
    let deployed = binary("list-bookings");
    let path = deployed.parent()?.join("test-tls").join("list-bookings");
    path.exists().then_some(path)
}

async fn https_world() -> TlsWorld {
    let data = SandboxData::demo(demo_start()).with_many(CONTACT, 50, demo_start());
    TlsWorld::new(
        data,
        UpstreamPolicy::default(),
        Presented::Valid,
        Protocols::H2AndHttp11,
    )
    .await
}

/// The first invocation and the warm page of the test-tls build over HTTP and over HTTPS, and
/// what the handshake costs at 128 MB's CPU share.
async fn over_https(path: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    let plain = new_world(50).await;
    let tls = https_world().await;
    let mut tls_env = tls.function_env();
    tls_env.push(("AWS_LAMBDA_LOG_LEVEL", "info".into()));
    let over_http = cold_starts_of(path, &env_for(&plain), 15, &[]).await;
    let before = tls.served.connections().len();
    let over_tls = cold_starts_of(path, &tls_env, 15, &[]).await;
    let handshakes = tls.served.connections().len() - before;
    rows.push(Row {
        figure: format!(
            "first invocation over HTTP / over HTTPS (h2; its {handshakes} handshakes in 15 cold starts), median of 15: wall; CPU, all threads"
        ),
        measured: format!(
            "{} / {}; {} / {}: the handshake adds {} and {} of CPU",
            ms(over_http.first),
            ms(over_tls.first),
            ms(over_http.first_cpu),
            ms(over_tls.first_cpu),
            ms(over_tls.first.saturating_sub(over_http.first)),
            ms(over_tls.first_cpu.saturating_sub(over_http.first_cpu))
        ),
        target: "one handshake per cold start",
        ok: handshakes == 15,
    });
    let (http_warm, http_cpu, _, _f, _r) = warm_pages_of(path, &env_for(&plain), &[], 300).await;
    let before = tls.served.connections().len();
    let (tls_warm, tls_cpu, _, _function, _runtime) = warm_pages_of(path, &tls_env, &[], 300).await;
    let handshakes = tls.served.connections().len() - before;
    rows.push(Row {
        figure: format!(
            "warm 50-booking page over HTTP / over HTTPS, 300 after one ({handshakes} handshake for all 301): p50; CPU per page"
        ),
        measured: format!(
            "{} / {}; {} / {}",
            ms(percentile(&http_warm, 0.5)),
            ms(percentile(&tls_warm, 0.5)),
            ms(http_cpu),
            ms(tls_cpu)
        ),
        target: "1 handshake per container",
        ok: handshakes == 1,
    });
    if let Some(wrapper) = cpu_share(128) {
        let over_http = cold_starts_of(path, &env_for(&plain), 7, &wrapper).await;
        let over_tls = cold_starts_of(path, &tls_env, 7, &wrapper).await;
        rows.push(Row {
            figure: "first invocation over HTTP / over HTTPS at 128 MB's CPU share, median of 7"
                .into(),
            measured: format!(
                "{} / {}: the handshake adds {}",
                ms(over_http.first),
                ms(over_tls.first),
                ms(over_tls.first.saturating_sub(over_http.first))
            ),
            target: "measured",
            ok: true,
        });
    }
    rows
}

/// The round trips the function's requests cost, from the `UpstreamCalls` of its EMF request
/// documents: they are written at any log level, so the figure needs no INFO logging, which
/// would be timed too.
fn emitted_upstream_calls(function: &Function) -> u64 {
    function
        .logs()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["_aws"].is_object())
        .filter_map(|l| l["UpstreamCalls"].as_u64())
        .sum()
}

/// New containers, one after another, each sent one request while the table holds a valid
/// token: their first request's median time and round trips, and one warm GetItem's.
async fn first_request_with_a_shared_token(
    runs: usize,
    wrapper: &[String],
) -> (Duration, u64, Duration, Duration) {
    let world = new_world(50).await;
    let table = TokenTable::create().await;
    let mut env = env_for(&world);
    env.push(("OMNILAB_TOKEN_TABLE", table.name.clone()));
    // Once is enough: the emulator stays warm for the later runs under a CPU share.
    if wrapper.is_empty() {
        warm_up(&table).await;
    }
    {
        // The first container of the fleet exchanges and publishes.
        let runtime = RuntimeApi::start().await;
        let _function = Function::spawn("list-bookings", &runtime, &env);
        runtime.invoke(page("page_size=50")).await.response();
    }
    let mut first = Vec::new();
    let mut calls = Vec::new();
    let mut cpu_times = Vec::new();
    for _ in 0..runs {
        let runtime = RuntimeApi::start().await;
        let function = Launch::of("list-bookings")
            .through(wrapper)
            .under(&runtime, &env);
        function.ready(&runtime).await;
        let at_poll = cpu(&function);
        let started = Instant::now();
        let response = runtime.invoke(page("page_size=50")).await.response();
        first.push(started.elapsed());
        assert_eq!(response["statusCode"], 200, "{response}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        cpu_times.push(cpu(&function).saturating_sub(at_poll));
        calls.push(emitted_upstream_calls(&function));
    }
    assert_eq!(
        world.sandbox.counters().token_requests,
        1,
        "one exchange for all of them"
    );
    first.sort();
    calls.sort();
    let get_item = median(|| get_absent_item(table.client(), &table.name)).await;
    (
        percentile(&first, 0.5),
        calls[calls.len() / 2],
        get_item,
        median_of(cpu_times),
    )
}

/// DynamoDB Local is a JVM that scripts/bench.sh has only just started: its first requests run
/// interpreted, several milliseconds slower than later ones (a new container's first request
/// was measurably slower in the first runs against a freshly started emulator). Each new
/// container opens a new connection, so the warm-up does too: 300 clients of their own, each
/// with its own HTTP connection, 10 `GetItem`s each. DynamoDB itself has no such warm-up.
async fn warm_up(table: &TokenTable) {
    for _ in 0..300 {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        for _ in 0..10 {
            get_absent_item(&client, &table.name).await;
        }
    }
}

/// One strongly consistent `GetItem`, the read a new container starts with (here of a key the
/// table does not hold).
async fn get_absent_item(client: &aws_sdk_dynamodb::Client, table: &str) {
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S("absent".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
}

/// `count` containers of both functions, cold at the same moment, each sent one request:
/// how many token exchanges OmniLab saw.
async fn cold_fleet_exchanges(count: usize, shared: bool) -> u64 {
    let world = new_world(50).await;
    let table = TokenTable::create().await;
    let mut env = env_for(&world);
    if shared {
        env.push(("OMNILAB_TOKEN_TABLE", table.name.clone()));
    }
    let mut fleet = Vec::new();
    for i in 0..count {
        let runtime = RuntimeApi::start().await;
        let name = ["list-bookings", "cancel-booking"][i % 2];
        let function = Function::spawn(name, &runtime, &env);
        fleet.push((runtime, function));
    }
    for (runtime, function) in &fleet {
        function.ready(runtime).await;
    }
    let events: Vec<Value> = (0..count)
        .map(|i| {
            if i.is_multiple_of(2) {
                page("page_size=50")
            } else {
                cancel_event(DEMO_CUSTOMER, &sandbox::booking_uuid(1)).json()
            }
        })
        .collect();
    let answers = futures_util::future::join_all(
        fleet
            .iter()
            .zip(events)
            .map(|((runtime, _), event)| runtime.invoke(event)),
    )
    .await;
    for answer in answers {
        assert_eq!(answer.response()["statusCode"], 200);
    }
    world.sandbox.counters().token_requests
}

async fn world_for_concurrency() -> World {
    new_world(50).await
}
