//! `can-viewer`: watches live buses (or a log) and shows one row per id:
//! count, period and jitter, time since the last frame, the latest data with
//! its changed bytes fading, and (with `--dbc`) decoded signals. Full-screen
//! on a terminal, where reception runs on its own thread and the screen is
//! drawn 20 times a second; on a pipe it prints the table once when it stops
//! (after `--duration`, `--count`, Ctrl-C, or the end of `--file`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Parser;
use crossterm::event::{self, Event, MouseEventKind};

use super::args::{format_arg, format_parser, open_bus, BusArgs, Limits, Verbosity};
use super::UsageError;
use crate::dbc::Dbc;
use crate::format;
use crate::frame::{Frame, Record, Timestamp};
use crate::pipe::{
    BusSource, BusSourceOptions, Driver, LogSource, Next, ReplaySource, Sink, Source, SourceReport,
    Stages, Step, Stop, Until,
};
use crate::replay::Timing;
use crate::view::app::{App, Command};
use crate::view::model::{bus_load, Model};
use crate::view::ui::{self, Status};

/// Watch CAN traffic: one live row per id.
#[derive(Parser, Debug)]
#[command(name = "can-viewer", version, long_about = None)]
// python-can's habit: `--filter 100:7FF 200:7FF` (this tool takes no
// positional argument that the list could swallow).
#[command(mut_arg("filter", |a| a.num_args(1..)))]
#[command(mut_arg("bitrate", |a| a.help(
    "Nominal bitrate in bit/s: set where the interface sets it, and the bus load is shown for it"
)))]
#[command(mut_arg("data_bitrate", |a| a.help(
    "CAN FD data-phase bitrate in bit/s (also for the load of bit-rate-switched frames)"
)))]
#[command(after_help = after_help())]
pub struct Cli {
    /// Show a log file (any format) instead of a live bus: on a terminal at
    /// its own pace (see --speed, --fast), on a pipe read at once
    #[arg(long = "file", short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Input format when the file name does not tell it
    #[arg(long, value_name = "FORMAT", value_parser = format_parser())]
    pub input_format: Option<String>,

    /// Play --file at this speed factor (2 = twice as fast)
    #[arg(long, value_name = "X", requires = "file")]
    pub speed: Option<f64>,

    /// Read --file as fast as it reads
    #[arg(long, requires = "file", conflicts_with = "speed")]
    pub fast: bool,

    /// Message definitions: names rows and decodes their signals (Enter
    /// under a row); repeatable, a later file's message replaces an earlier
    /// one with the same id
    #[arg(long, value_name = "FILE")]
    pub dbc: Vec<PathBuf>,

    /// One row per (channel, id, length) instead of per (channel, id): CAN FD
    /// ids sent with several lengths (key l)
    #[arg(long)]
    pub by_length: bool,

    /// At most this many rows; frames of further ids are counted and said so
    #[arg(long, value_name = "N", default_value_t = crate::view::model::DEFAULT_MAX_ROWS as u64,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_rows: u64,

    #[command(flatten)]
    pub limits: Limits,

    /// Print a plain table even on a terminal
    #[arg(long)]
    pub plain: bool,

    #[command(flatten)]
    pub bus: BusArgs,

    #[command(flatten)]
    pub verbosity: Verbosity,
}

fn after_help() -> String {
    let mut s = String::from("Keys:\n");
    for (k, what) in ui::KEYS {
        s.push_str(&format!("  {k:<27} {what}\n"));
    }
    s.push_str(
        "\nThe bus load (worst-case bit stuffing, as canbusload) is shown when -b/--bitrate \
         is given (and --data-bitrate for CAN FD bit-rate switching). NO_COLOR turns colours off.\n\n\
         Examples:\n  \
         can-viewer                      # the default virtual bus\n  \
         can-viewer -i socketcan -c can0 -b 500000 --filter 7E0:7F0\n  \
         can-viewer -i udp_multicast -c 239.74.163.2\n  \
         can-viewer --file trace.blf --speed 4\n  \
         can-viewer --file trace.blf --plain   # a summary of a log",
    );
    s
}

/// Where the frames come from.
enum Input {
    Bus(BusSource),
    Log(LogSource),
    Replay(Box<ReplaySource>),
}

impl Input {
    fn dropped(&self) -> u64 {
        match self {
            Input::Bus(b) => b.dropped_so_far(),
            _ => 0,
        }
    }
}

impl Source for Input {
    fn next(&mut self, until: Until) -> crate::Result<Next<'_>> {
        match self {
            Input::Bus(s) => s.next(until),
            Input::Log(s) => s.next(until),
            Input::Replay(s) => s.next(until),
        }
    }
    fn drain(
        &mut self,
        until: Timestamp,
        each: &mut dyn FnMut(usize, Record) -> crate::Result<bool>,
    ) -> crate::Result<()> {
        match self {
            Input::Bus(s) => s.drain(until, each),
            Input::Log(s) => s.drain(until, each),
            Input::Replay(s) => s.drain(until, each),
        }
    }
    fn finish(&mut self) -> crate::Result<SourceReport> {
        match self {
            Input::Bus(s) => s.finish(),
            Input::Log(s) => s.finish(),
            Input::Replay(s) => s.finish(),
        }
    }
}

/// What the receiving thread shares with the screen.
struct Shared {
    model: Model,
    dropped: u64,
    /// The source ended (the end of the file, --count, --duration).
    done: bool,
    error: Option<crate::Error>,
}

fn lock(s: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// The sink of the receiving thread: each record into the shared model.
struct Feed(Arc<Mutex<Shared>>);

impl Sink for Feed {
    #[inline]
    fn write(&mut self, _from: usize, record: &Record) -> crate::Result<bool> {
        lock(&self.0).model.update(record);
        Ok(true)
    }
}

/// How the view's clock runs: the wall clock for buses, log time for files.
#[derive(Clone, Copy, Debug)]
enum Clock {
    Wall,
    Log { speed: f64 },
}

/// Runs the tool.
pub fn run(cli: Cli) -> Result<()> {
    cli.verbosity.init_logging("can-viewer");
    let tui = !cli.plain && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if let Some(s) = cli.speed {
        if !(s > 0.0 && s.is_finite()) {
            bail!(UsageError("--speed must be a positive number".into()));
        }
    }
    let mut dbc: Option<Dbc> = None;
    for path in &cli.dbc {
        let d = Dbc::open(path)?;
        match &mut dbc {
            None => dbc = Some(d),
            Some(all) => all.merge(d),
        }
    }
    let dbc = dbc.map(Arc::new);
    let mut model = Model::new()
        .with_max_rows(cli.max_rows as usize)
        .with_dbc(dbc.clone());
    model.set_by_length(cli.by_length);
    let stop = Stop::install();

    let (source, title, stages, clock, bitrates) = match &cli.file {
        Some(path) => {
            let fmt = format_arg(cli.input_format.as_deref())?;
            format::resolve_format(path, fmt)?;
            let stages = Stages::filtering(cli.bus.filters()?);
            // On a terminal the log plays at its pace unless --fast; on a pipe
            // it is read at once unless --speed.
            let speed = match (cli.fast, cli.speed) {
                (true, _) => None,
                (false, Some(s)) => Some(s),
                (false, None) if tui => Some(1.0),
                (false, None) => None,
            };
            let source = match speed {
                None => Input::Log(LogSource::new(format::open_reader(path, fmt)?, path)),
                Some(speed) => {
                    let p = path.clone();
                    Input::Replay(Box::new(ReplaySource::new(
                        Box::new(move || format::open_reader(&p, fmt)),
                        path,
                        Timing {
                            speed,
                            ..Timing::default()
                        },
                        1,
                        stop.clone(),
                    )?))
                }
            };
            let bitrates = cli
                .bus
                .bitrate
                .map(|b| (b, cli.bus.data_bitrate.unwrap_or(b)));
            (
                source,
                path.display().to_string(),
                stages,
                Clock::Log {
                    speed: speed.unwrap_or(0.0),
                },
                bitrates,
            )
        }
        None => {
            if cli.input_format.is_some() {
                bail!(UsageError("--input-format goes with --file".into()));
            }
            let mut buses = Vec::new();
            let settings = cli.bus.settings_all()?;
            let bitrates = settings
                .iter()
                .find_map(|s| s.bitrate.map(|b| (b, s.data_bitrate.unwrap_or(b))));
            for s in settings {
                buses.push((open_bus(&s)?, s));
            }
            let source = BusSource::new(
                buses,
                BusSourceOptions {
                    latency: if tui { RECEIVE_LATENCY } else { Duration::ZERO },
                    reorder: Duration::ZERO,
                },
            )?;
            let title = source.names().join(", ");
            // The buses apply the filters themselves.
            (
                Input::Bus(source),
                title,
                Stages::default(),
                Clock::Wall,
                bitrates,
            )
        }
    };
    let driver = Driver::new(stages)
        .count(cli.limits.count)
        .duration(cli.limits.duration)
        .stop(stop.clone());
    if tui {
        let shared = Arc::new(Mutex::new(Shared {
            model,
            dropped: 0,
            done: false,
            error: None,
        }));
        return run_tui(
            shared,
            Screen {
                title,
                clock,
                bitrates,
                from_file: cli.file.is_some(),
                color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            },
            source,
            driver,
            stop,
        );
    }
    let mut source = source;
    let summary = driver.run(&mut source, &mut model)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let d = dbc.as_deref();
    ui::write_plain(&mut out, &model, &|f: &Frame| ui::dbc_names(d, f), &|f| {
        ui::plain_signals(d, f)
    })?;
    if summary.source.dropped > 0 {
        log::warn!("{} frame(s) dropped", summary.source.dropped);
    }
    Ok(())
}

/// What the screen needs besides the model.
struct Screen {
    title: String,
    clock: Clock,
    bitrates: Option<(u32, u32)>,
    from_file: bool,
    color: bool,
}

/// Receives on its own thread until the source ends or a stop is requested.
fn receive(mut source: Input, mut driver: Driver, shared: Arc<Mutex<Shared>>) {
    let mut feed = Feed(shared.clone());
    let mut steps = 0u32;
    let outcome = (|| -> crate::Result<()> {
        loop {
            match driver.step(&mut source, &mut feed, Duration::from_millis(50))? {
                Step::Done => return Ok(()),
                Step::Idle => lock(&shared).dropped = source.dropped(),
                _ => {
                    steps = steps.wrapping_add(1);
                    if steps % 4096 == 0 {
                        lock(&shared).dropped = source.dropped();
                    }
                }
            }
        }
    })();
    let finished = driver.finish(&mut source, &mut feed);
    let mut s = lock(&shared);
    s.done = true;
    match (outcome, finished) {
        (Err(e), _) | (Ok(()), Err(e)) => s.error = Some(e),
        (Ok(()), Ok(summary)) => s.dropped = s.dropped.max(summary.source.dropped),
    }
}

/// Puts the terminal back as it was, however the viewer ends (a panic too).
struct TermGuard;

impl TermGuard {
    fn enter() -> Result<TermGuard> {
        use crossterm::{cursor, event as ev, execute, terminal};
        terminal::enable_raw_mode()?;
        let guard = TermGuard;
        execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            ev::EnableMouseCapture,
            cursor::Hide
        )?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            TermGuard::restore();
            previous(info);
        }));
        Ok(guard)
    }

    fn restore() {
        use crossterm::{cursor, event as ev, execute, terminal};
        let _ = execute!(
            std::io::stdout(),
            ev::DisableMouseCapture,
            terminal::LeaveAlternateScreen,
            cursor::Show
        );
        let _ = terminal::disable_raw_mode();
    }
}

impl Drop for TermGuard {
    fn drop(&mut self) {
        TermGuard::restore();
    }
}

/// Counts at a time, for the rates: (view time, frames, (bits, data-phase
/// bits) per channel).
type Sample = (Timestamp, u64, Vec<(u64, u64)>);

/// The screen's frame rate.
const DRAW_EVERY: Duration = Duration::from_millis(50);
/// The frame rate while nothing arrives.
const IDLE_DRAW_EVERY: Duration = Duration::from_millis(250);
/// How long a bus may hold frames back to hand them over together: less than
/// a redraw, so nothing shows later, and far fewer wake-ups on a busy bus.
const RECEIVE_LATENCY: Duration = Duration::from_millis(20);

fn run_tui(
    shared: Arc<Mutex<Shared>>,
    screen: Screen,
    source: Input,
    driver: Driver,
    stop: Stop,
) -> Result<()> {
    let rx = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("receive".into())
            .spawn(move || receive(source, driver, shared))?
    };
    let result = (|| -> Result<()> {
        let _guard = TermGuard::enter()?;
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))?;
        terminal.clear()?;
        let mut app = App::new();
        let start = Instant::now();
        let mut frozen: Option<Model> = None;
        // The log clock: the latest timestamp and when the screen saw it.
        let mut latest: Option<(Timestamp, Instant)> = None;
        // Once a second: frames and bits per channel, for the rates.
        let mut sample: Option<Sample> = None;
        let mut fps = 0.0;
        let mut loads: Vec<(String, f64)> = Vec::new();
        let mut next_draw = Instant::now();
        // Nothing new (no frame, no key): redrawn 4 times a second only, for
        // the ages and the fading.
        let mut drawn: Option<(u64, u64, Instant)> = None;
        let mut touched = true;
        loop {
            if stop.is_set() {
                return Ok(());
            }
            let now_i = Instant::now();
            if now_i >= next_draw {
                let mut s = lock(&shared);
                if let Some(e) = s.error.take() {
                    return Err(e.into());
                }
                if s.done && !screen.from_file {
                    return Ok(());
                }
                let seen = (s.model.total, s.model.generation);
                if !touched
                    && drawn
                        .is_some_and(|(t, g, at)| (t, g) == seen && at.elapsed() < IDLE_DRAW_EVERY)
                {
                    drop(s);
                    next_draw = now_i + DRAW_EVERY;
                    continue;
                }
                drawn = Some((seen.0, seen.1, now_i));
                touched = false;
                if let Some(l) = s.model.latest {
                    if latest.is_none_or(|(t, _)| t != l) {
                        latest = Some((l, now_i));
                    }
                }
                let now = match screen.clock {
                    Clock::Wall => Timestamp::now(),
                    Clock::Log { speed } => match latest {
                        None => Timestamp(0),
                        Some((t, at)) if !s.done => Timestamp(
                            t.as_nanos() + (at.elapsed().as_nanos() as f64 * speed) as i64,
                        ),
                        Some((t, _)) => t,
                    },
                };
                let counts: Vec<(u64, u64)> = s
                    .model
                    .channels()
                    .iter()
                    .map(|c| (c.bits, c.data_bits))
                    .collect();
                match &sample {
                    Some((t0, total0, bits0))
                        if now.as_nanos() - t0.as_nanos() >= 1_000_000_000 =>
                    {
                        let dt = (now.as_nanos() - t0.as_nanos()) as f64 / 1e9;
                        fps = s.model.total.saturating_sub(*total0) as f64 / dt;
                        loads = match screen.bitrates {
                            None => Vec::new(),
                            Some((b, db)) => s
                                .model
                                .channels()
                                .iter()
                                .zip(&counts)
                                .enumerate()
                                .map(|(i, (c, (bits, data)))| {
                                    let (b0, d0) = bits0.get(i).copied().unwrap_or((0, 0));
                                    (
                                        c.channel.to_string(),
                                        bus_load(
                                            bits - b0.min(*bits),
                                            data - d0.min(*data),
                                            dt,
                                            b,
                                            db,
                                        ),
                                    )
                                })
                                .collect(),
                        };
                        sample = Some((now, s.model.total, counts));
                    }
                    Some(_) => {}
                    None => sample = Some((now, s.model.total, counts)),
                }
                let status = Status {
                    title: screen.title.clone(),
                    fps,
                    loads: loads.clone(),
                    dropped: s.dropped,
                    elapsed: start.elapsed(),
                    now,
                    color: screen.color,
                    ended: s.done,
                };
                match (&frozen, app.paused) {
                    (None, true) => frozen = Some(s.model.clone()),
                    (Some(_), false) => frozen = None,
                    _ => {}
                }
                let model = frozen.as_ref().unwrap_or(&s.model);
                let d = model.dbc();
                // Render under the lock, write to the terminal after it (a slow
                // terminal must not hold up reception).
                terminal.autoresize()?;
                {
                    let mut f = terminal.get_frame();
                    ui::draw(
                        &mut f,
                        model,
                        &mut app,
                        &status,
                        &|fr: &Frame| ui::dbc_names(d, fr),
                        &|r, st| ui::signal_lines(d, r, st),
                    );
                }
                drop(s);
                terminal.flush()?;
                terminal.swap_buffers();
                ratatui::backend::Backend::flush(terminal.backend_mut())?;
                next_draw = now_i + DRAW_EVERY;
            }
            let wait = next_draw.saturating_duration_since(Instant::now());
            if event::poll(wait)? {
                let cmd = match event::read()? {
                    Event::Key(k) => app.key(k),
                    Event::Mouse(m) => {
                        match m.kind {
                            MouseEventKind::ScrollDown => app.scroll(1),
                            MouseEventKind::ScrollUp => app.scroll(-1),
                            _ => continue,
                        }
                        Command::None
                    }
                    Event::Resize(..) => Command::None,
                    _ => continue,
                };
                match cmd {
                    Command::Quit => return Ok(()),
                    Command::Clear => {
                        lock(&shared).model.clear();
                        frozen = frozen.map(|_| lock(&shared).model.clone());
                        sample = None;
                    }
                    Command::ByLength(on) => {
                        lock(&shared).model.set_by_length(on);
                        frozen = frozen.map(|_| lock(&shared).model.clone());
                        sample = None;
                    }
                    Command::Watch(key, on) => {
                        lock(&shared).model.watch(key, on);
                        if let Some(m) = &mut frozen {
                            m.watch(key, on);
                        }
                    }
                    Command::None => {}
                }
                // Answer a key at once.
                next_draw = Instant::now();
                touched = true;
            }
        }
    })();
    stop.set();
    let _ = rx.join();
    let error = lock(&shared).error.take();
    result?;
    if let Some(e) = error {
        return Err(e.into());
    }
    Ok(())
}
