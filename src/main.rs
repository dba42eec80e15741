//! The `nsprobe` command line: `run` (the daemon), `check` (one round, Nagios
//! exit codes), `validate` (check a config file).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use nsprobe::check::{self, Verdict};
use nsprobe::config;
use nsprobe::daemon::{self, RunOptions};
use nsprobe::resolve::NameResolver;

/// Watches the authoritative nameservers of DNS zones: SOA serial freshness,
/// lag, reachability and response time.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Log format (filter with RUST_LOG, e.g. RUST_LOG=nsprobe=debug).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: probe on schedule, serve /metrics and the JSON API.
    Run {
        /// Config file.
        #[arg(short, long)]
        config: PathBuf,
        /// Web config file (Prometheus exporter-toolkit format: TLS, basic auth, headers).
        #[arg(long = "web.config.file", value_name = "FILE")]
        web_config: Option<PathBuf>,
    },
    /// Probe every target once and print a table; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Check {
        /// Config file.
        #[arg(short, long)]
        config: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Watch nsprobe work, offline: the seven .dk nameservers as real DNS servers on
    /// loopback, the daemon probing them, the seed's incidents replayed within minutes.
    Demo {
        /// Where the daemon's HTTP server (status page, /metrics, API) listens.
        #[arg(long, default_value = "127.0.0.1:9853")]
        listen: std::net::SocketAddr,
    },
    /// Check a config file and exit non-zero on error.
    Validate {
        /// Config file.
        #[arg(short, long)]
        config: PathBuf,
        /// Also check this web config file (TLS material included).
        #[arg(long = "web.config.file", value_name = "FILE")]
        web_config: Option<PathBuf>,
    },
}

fn init_logging(format: LogFormat, default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let style = LogStyle::detect();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(style.ansi)
        .with_writer(std::io::stderr);
    match (format, style.journald) {
        (LogFormat::Json, _) => builder.json().init(),
        // journald stamps every line itself; a second timestamp is noise.
        (LogFormat::Text, true) => builder.without_time().init(),
        (LogFormat::Text, false) => builder.init(),
    }
}

/// How text logs are styled, decided from where stderr goes.
struct LogStyle {
    /// Colour (ANSI escapes): only on a terminal, and never with `NO_COLOR` set.
    ansi: bool,
    /// stderr is the systemd journal (`JOURNAL_STREAM` names stderr's device and inode).
    journald: bool,
}

impl LogStyle {
    fn detect() -> Self {
        use std::io::IsTerminal as _;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        LogStyle {
            ansi: std::io::stderr().is_terminal() && !no_color,
            journald: stderr_is_journal(),
        }
    }
}

/// glibc gives each thread that allocates its own heap ("arena"), up to 8 per core, and
/// keeps what was freed in it: the metrics render threads and the runtimes' workers then
/// hold on to tens of MB after a scrape at 10,000 targets. Two arenas are enough for a
/// daemon whose heavy work runs on a few threads (measured at 10,000 targets: peak RSS
/// 140 → 119 MiB, CPU unchanged). `MALLOC_ARENA_MAX` in the environment still wins.
/// Called before any thread is started.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; called from main before any
        // other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// systemd sets `JOURNAL_STREAM=<dev>:<inode>` for a service whose stderr is the journal.
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    stream.to_string_lossy() == format!("{}:{}", meta.dev(), meta.ino())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config, web_config } => {
            limit_malloc_arenas();
            init_logging(cli.log_format, "info");
            match serving_runtime().and_then(|rt| {
                rt.block_on(daemon::run(RunOptions {
                    config_path: config,
                    listen: None,
                    web_config,
                }))
            }) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("nsprobe: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Demo { listen } => {
            // The demo's own DNS servers log every query at info: keep them quiet.
            init_logging(cli.log_format, "info,hickory_server=warn");
            match serving_runtime().and_then(|rt| rt.block_on(demo(listen))) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("nsprobe demo: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check { config, json } => {
            init_logging(cli.log_format, "warn");
            let code = match check_once(&config, json) {
                Ok(v) => v.exit_code(),
                Err(e) => {
                    println!("UNKNOWN: {e:#}");
                    Verdict::Unknown.exit_code()
                }
            };
            ExitCode::from(code as u8)
        }
        Command::Validate { config, web_config } => {
            if let Some(web) = &web_config {
                if let Err(e) = nsprobe::web::WebHandle::load(Some(web)) {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
                println!("{}: ok", web.display());
            }
            validate(&config)
        }
    }
}

fn validate(config: &std::path::Path) -> ExitCode {
    match config::load(config) {
        Ok(c) => {
            let servers: usize = c.zones.iter().map(|z| z.nameservers.len()).sum();
            let components: usize = c.groups.iter().map(|g| g.components.len()).sum();
            let checks: usize = c
                .groups
                .iter()
                .flat_map(|g| &g.components)
                .map(|c| c.checks.len())
                .sum();
            println!(
                "{}: ok ({} zone(s), {} nameserver(s), {} service group(s), {} service component(s), {} check(s), {} maintenance window(s))",
                config.display(),
                c.zones.len(),
                servers,
                c.groups.len(),
                components,
                checks,
                c.maintenance.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// `nsprobe demo`: start the servers, write their config, run the daemon on it, play
/// the script beside it.
async fn demo(listen: std::net::SocketAddr) -> anyhow::Result<()> {
    use nsprobe::demo::{Demo, Timing};
    let demo = std::sync::Arc::new(
        Demo::start(Timing::default())
            .await
            .context("cannot start the demo's DNS servers")?,
    );
    let dir = std::env::temp_dir().join(format!("nsprobe-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let config_path = dir.join("demo.toml");
    let started = nsprobe::now_ms();
    let start = tokio::time::Instant::now();
    std::fs::write(
        &config_path,
        demo.config_text(listen, &dir.join("state.json"), started),
    )
    .with_context(|| format!("cannot write {}", config_path.display()))?;
    for (name, addr) in &demo.addresses {
        tracing::info!("demo: {name} answers for dk. on {addr} (UDP and TCP)");
    }
    let running = daemon::start(RunOptions {
        config_path: config_path.clone(),
        listen: Some(listen),
        web_config: None,
    })
    .await
    .with_context(|| {
        format!("cannot start the daemon on {listen} (use --listen to pick another address)")
    })?;
    tracing::info!(
        "demo: open http://{}/ for the status page, /metrics for Prometheus; config in {}",
        running.http_addr,
        config_path.display()
    );
    let player = {
        let demo = demo.clone();
        tokio::spawn(async move { demo.play(start).await })
    };
    let result = running.wait().await;
    player.abort();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The runtime of `run` and `demo`: it serves HTTP (and its blocking pool reads the
/// store for pages), so its threads (`nsprobe-http`) run at the readers' priority,
/// below the probe runtime and the state loop, which the main thread starts at the
/// process's own (see `nsprobe::priority`).
fn serving_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name("nsprobe-http")
        .on_thread_start(nsprobe::priority::lower_reader_thread)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn check_once(path: &std::path::Path, json: bool) -> anyhow::Result<Verdict> {
    let config = config::load(path)?;
    let rt = runtime()?;
    let report = rt.block_on(async {
        let resolver = NameResolver::new(&config.resolver)?;
        anyhow::Ok(check::run(&config, &resolver).await)
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", check::render_table(&report));
    }
    Ok(report.verdict)
}
