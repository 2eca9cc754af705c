//! The traffic model: one simulated day of a brand's traffic through both functions'
//! Lambda containers, counting OmniLab token exchanges with each container caching its own token
//! (today) and with the fleet sharing one token in the DynamoDB store. Prints Markdown.
//!
//! `cargo run --release -p bookings-tests --bin traffic-model`. Deterministic: a fixed seed.

/// One day, in seconds: the model's clock runs from 00:00 to 24:00.
const DAY: f64 = 86_400.0;
/// OmniLab's `expires_in` (3600 s) less a fifth: when a refresh is due (`auth::token`).
const REFRESH_AFTER: f64 = 2_880.0;
/// Reserved concurrency in template.yaml (`ReservedConcurrentExecutions`' default), per function.
const RESERVED: usize = 20;
/// Share of requests that go to list-bookings; the rest go to cancel-booking.
const LIST_SHARE: f64 = 0.9;
/// Median request duration (s) and the spread of its logarithm: lognormal, so a few slow ones.
const MEDIAN_DURATION: f64 = 0.120;
const DURATION_SIGMA: f64 = 0.5;
/// Added to a container's first request: process start, secret read, first connections.
const COLD_START: f64 = 0.300;
/// The function timeout in template.yaml: no request runs longer.
const TIMEOUT: f64 = 10.0;
/// Idle containers are reaped after a random 5-15 minutes (AWS documents no figure).
const IDLE_REAP: (f64, f64) = (300.0, 900.0);
/// No container lives longer than a random 2-4 hours (observed, not documented).
const MAX_LIFE: (f64, f64) = (7_200.0, 14_400.0);
/// The daytime curve: (hour, requests per second), linear in between.
const CURVE: [(f64, f64); 8] = [
    (0.0, 0.05),
    (6.0, 0.05),
    (9.0, 2.0),
    (12.0, 5.0),
    (15.0, 3.5),
    (20.0, 8.0),
    (22.0, 4.0),
    (24.0, 0.05),
];
/// The campaign email: lands at 10:00, 150 req/s at once, decaying by e every 5 minutes (2 % left
/// after 20 minutes).
const BURST: (f64, f64, f64) = (10.0 * 3_600.0, 150.0, 300.0);
const SEED: u64 = 0x0A11_AB00_2026_0010;

/// splitmix64: tiny, seeded and good enough for a traffic model; no dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never 0, so its logarithm is finite.
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    fn between(&mut self, (low, high): (f64, f64)) -> f64 {
        low + (high - low) * self.unit()
    }

    /// The gap to the next arrival of a Poisson process of this rate.
    fn exponential(&mut self, rate: f64) -> f64 {
        -self.unit().ln() / rate
    }

    /// Box-Muller: one standard normal draw.
    fn normal(&mut self) -> f64 {
        (-2.0 * self.unit().ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }
}

#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    /// Multiplies the whole curve, burst included.
    scale: f64,
    burst: bool,
    reserved: usize,
}

impl Scenario {
    /// Arrivals per second (both functions) at `t` seconds after midnight.
    fn rate(&self, t: f64) -> f64 {
        let hour = t / 3_600.0;
        let day = CURVE
            .windows(2)
            .find(|w| hour <= w[1].0)
            .map_or(CURVE[CURVE.len() - 1].1, |w| {
                let ((h0, r0), (h1, r1)) = (w[0], w[1]);
                r0 + (r1 - r0) * (hour - h0) / (h1 - h0)
            });
        let (start, peak, decay) = BURST;
        let burst = if self.burst && t >= start {
            peak * (-(t - start) / decay).exp()
        } else {
            0.0
        };
        self.scale * (day + burst)
    }
}

/// One Lambda execution environment: serves one request at a time.
struct Container {
    retire_at: f64,
    idle_limit: f64,
    /// End of its current or last request: idle from then on.
    busy_until: f64,
    /// Per-container caching: when its own token reaches refresh time (None: no token yet).
    own_token: Option<f64>,
    /// Shared store: when its copy of the table's token reaches refresh time.
    shared_copy: Option<f64>,
}

/// One function's containers.
struct Fleet {
    containers: Vec<Container>,
    starts: u64,
    peak: usize,
}

/// A day's figures; the exchange times let the tests check the store's invariant.
#[derive(Default)]
struct Outcome {
    requests: u64,
    throttled: u64,
    starts: [u64; 2],
    peak: [usize; 2],
    per_container: Vec<f64>,
    shared: Vec<f64>,
    table_reads: u64,
}

fn busiest_minute(times: &[f64]) -> u32 {
    let mut minutes = [0u32; 1_440];
    for &t in times {
        minutes[((t / 60.0) as usize).min(1_439)] += 1;
    }
    minutes.into_iter().max().unwrap_or(0)
}

fn simulate(scenario: Scenario, seed: u64) -> Outcome {
    let mut rng = Rng(seed);
    let mut fleets = [0, 1].map(|_| Fleet {
        containers: Vec::new(),
        starts: 0,
        peak: 0,
    });
    // The table starts the day empty: at most one exchange more than a day that inherits one.
    let mut table: Option<f64> = None;
    let mut out = Outcome::default();

    // Poisson arrivals with the rate held constant within each second: exponential gaps, restarted
    // at each second's boundary (the process is memoryless, so this is exact for that rate).
    for second in 0..DAY as u32 {
        let rate = scenario.rate(f64::from(second) + 0.5);
        let mut t = f64::from(second);
        loop {
            t += rng.exponential(rate);
            if t >= f64::from(second) + 1.0 {
                break;
            }
            out.requests += 1;
            // Splitting a Poisson process at random gives two independent Poisson processes.
            let function = usize::from(rng.unit() > LIST_SHARE);
            let fleet = &mut fleets[function];

            // Reap idle containers past their idle limit and retire old ones; a busy container
            // finishes its request first (and still counts against the concurrency).
            fleet.containers.retain(|c| {
                c.busy_until > t || (t < c.retire_at && t < c.busy_until + c.idle_limit)
            });
            // Lambda roughly reuses the most recently used idle container.
            let warm = fleet
                .containers
                .iter()
                .enumerate()
                .filter(|(_, c)| c.busy_until <= t && t < c.retire_at)
                .max_by(|(_, a), (_, b)| a.busy_until.total_cmp(&b.busy_until))
                .map(|(i, _)| i);
            let mut duration =
                (MEDIAN_DURATION * (DURATION_SIGMA * rng.normal()).exp()).min(TIMEOUT);
            let index = match warm {
                Some(i) => i,
                // Every live container is busy: the reserved concurrency caps the new ones.
                None if fleet.containers.len() >= scenario.reserved => {
                    out.throttled += 1;
                    continue;
                }
                None => {
                    fleet.starts += 1;
                    duration += COLD_START;
                    fleet.containers.push(Container {
                        retire_at: t + rng.between(MAX_LIFE),
                        idle_limit: rng.between(IDLE_REAP),
                        busy_until: t,
                        own_token: None,
                        shared_copy: None,
                    });
                    fleet.peak = fleet.peak.max(fleet.containers.len());
                    fleet.containers.len() - 1
                }
            };
            let container = &mut fleet.containers[index];
            container.busy_until = t + duration;

            // Today: the container exchanges when it has no token or its token is due.
            if container.own_token.is_none_or(|due| t >= due) {
                out.per_container.push(t);
                container.own_token = Some(t + REFRESH_AFTER);
            }
            // The store: the container reads the table when it has no copy or its copy is due;
            // only a due (or missing) table token is exchanged, by the one request that finds it
            // so (the store's conditional write makes any concurrent finder wait and re-read).
            if container.shared_copy.is_none_or(|due| t >= due) {
                out.table_reads += 1;
                let due = match table {
                    Some(due) if t < due => due,
                    _ => {
                        out.shared.push(t);
                        t + REFRESH_AFTER
                    }
                };
                table = Some(due);
                container.shared_copy = Some(due);
            }
        }
    }
    for (i, fleet) in fleets.iter().enumerate() {
        out.starts[i] = fleet.starts;
        out.peak[i] = fleet.peak;
    }
    out
}

fn scenarios() -> [Scenario; 5] {
    let day = |name, scale, burst, reserved| Scenario {
        name,
        scale,
        burst,
        reserved,
    };
    [
        day("ordinary day", 1.0, false, RESERVED),
        day("day with a campaign burst", 1.0, true, RESERVED),
        day("burst, reserved concurrency 100", 1.0, true, 100),
        day("a busier brand x10, burst, reserved 100", 10.0, true, 100),
        day(
            "a busier brand x10, burst, reserved 20",
            10.0,
            true,
            RESERVED,
        ),
    ]
}

fn main() {
    println!("## Token exchanges per day: per-container caching vs the shared store\n");
    println!("Assumptions (one simulated day per row, seed {SEED:#x}):\n");
    let curve: Vec<String> = CURVE
        .iter()
        .map(|(hour, rate)| format!("{hour:02}:00 {rate}"))
        .collect();
    println!(
        "- Traffic: Poisson arrivals from a daily curve in req/s, linear between {}; the burst \
         adds {} req/s at 10:00, decaying by e every {} min. {:.0} % of requests go to \
         list-bookings, the rest to cancel-booking.",
        curve.join(", "),
        BURST.1,
        BURST.2 / 60.0,
        LIST_SHARE * 100.0
    );
    println!(
        "- A request runs a lognormal time (median {} ms, sigma {DURATION_SIGMA}, at most {TIMEOUT} s); \
         a container's first request adds {} ms of cold start. One request per container at a time.",
        MEDIAN_DURATION * 1e3,
        COLD_START * 1e3
    );
    println!(
        "- Lambda, per function: the most recently used idle container takes the request, else a \
         new one starts unless the function already runs its reserved concurrency (then the \
         request is throttled, not retried). Idle containers are reaped after a random {}-{} min, \
         and retired after a random {}-{} h of life (AWS documents neither figure).",
        IDLE_REAP.0 / 60.0,
        IDLE_REAP.1 / 60.0,
        MAX_LIFE.0 / 3_600.0,
        MAX_LIFE.1 / 3_600.0
    );
    println!(
        "- Tokens live 3600 s and are due for refresh {REFRESH_AFTER} s after they are obtained. \
         Per-container: a container exchanges on its first request and on its first request \
         after its token is due. Shared store: both functions share the table's one token; a \
         container reads the table (one GetItem) on its first request and on its first request \
         after its copy is due; the one request that finds the table's token due (or missing) \
         exchanges and writes it (one write per exchange, not counted below). The table and the \
         fleet start the day empty. Both modes see the same containers: the exchange's cost is \
         inside the cold-start figure.\n"
    );
    println!(
        "| scenario | requests | throttled | container starts (list + cancel) | peak containers \
         (list / cancel) | exchanges/day, per-container | exchanges/day, shared | most exchanges \
         in one minute (per-container / shared) | DynamoDB reads/day (shared) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for scenario in scenarios() {
        let out = simulate(scenario, SEED);
        println!(
            "| {} | {} | {} | {} ({} + {}) | {} / {} | {} | {} | {} / {} | {} |",
            scenario.name,
            out.requests,
            out.throttled,
            out.starts[0] + out.starts[1],
            out.starts[0],
            out.starts[1],
            out.peak[0],
            out.peak[1],
            out.per_container.len(),
            out.shared.len(),
            busiest_minute(&out.per_container),
            busiest_minute(&out.shared),
            out.table_reads,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_exchanges_at_most_once_per_refresh_period() {
        for scenario in scenarios().into_iter().take(3) {
            let out = simulate(scenario, SEED);
            assert!(!out.shared.is_empty());
            for pair in out.shared.windows(2) {
                assert!(pair[1] - pair[0] >= REFRESH_AFTER, "{}", scenario.name);
            }
            assert!(out.shared.len() <= (DAY / REFRESH_AFTER).ceil() as usize);
            // Every container reads the table at least once; the rest are due copies.
            assert!(out.table_reads >= out.starts[0] + out.starts[1]);
        }
    }

    #[test]
    fn per_container_exchanges_at_least_once_per_container() {
        for scenario in scenarios().into_iter().take(3) {
            let out = simulate(scenario, SEED);
            let starts = out.starts[0] + out.starts[1];
            assert!(
                out.per_container.len() as u64 >= starts,
                "{}",
                scenario.name
            );
            assert!(out.per_container.len() >= out.shared.len());
            assert!(out.peak.iter().all(|&peak| peak <= scenario.reserved));
            // The same seed gives the same day.
            assert_eq!(simulate(scenario, SEED).per_container, out.per_container);
        }
    }
}
