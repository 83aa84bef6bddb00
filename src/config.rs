//! Bus settings from four places, resolved in one spot:
//!
//! 1. the command line (`-i`, `-c`, `-b`, `--fd`, `--data-bitrate`, `--bus-opt`, `--filter`);
//! 2. python-can's environment variables `CAN_INTERFACE`, `CAN_CHANNEL`,
//!    `CAN_BITRATE` and `CAN_CONFIG` (a JSON object of the same keys and any
//!    backend option);
//! 3. a named profile of the TOML config file (`--profile NAME`);
//! 4. the file's `[default]` table;
//!
//! and finally the built-in default, the `virtual` interface on channel `vcan0`.
//! The first place that sets a value wins; `--no-config` ignores the file and the
//! environment. The file is `--config FILE`, else `$XDG_CONFIG_HOME/cankit/config.toml`
//! (`~/.config/cankit/config.toml`), else `/etc/cankit/config.toml`. Its layout, like
//! python-can's `can.ini`, is one table per profile:
//!
//! ```toml
//! [default]
//! interface = "virtual"
//! channel = "vcan0"
//!
//! [car]
//! interface = "socketcan"
//! channel = "can0"
//! bitrate = 500000
//! filter = "7E8:7F8"
//! options = { timestamps = "hardware" }
//! ```
//!
//! A key python-can knows and cankit has no use for (`receive_own_messages`,
//! `app_name`, bit-timing keys, ...: [`PYTHON_CAN_ONLY`]), in a table, in its
//! `options` or in `CAN_CONFIG`, is ignored with a warning, so one configuration
//! can serve both; a key nobody knows is an error naming the keys there are.
//! Errors in the file name it with the line and column (`config.toml:3:11: ...`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use toml::Spanned;

use crate::bus::{BusSettings, DEFAULT_CHANNEL, DEFAULT_INTERFACE};
use crate::error::{Error, Result};
use crate::filter::FilterSet;

/// The keys a table of the config file takes.
pub const KEYS: &[&str] = &[
    "interface",
    "channel",
    "bitrate",
    "fd",
    "data_bitrate",
    "filter",
    "options",
];

/// Options that python-can's config loader or one of its buses takes and
/// cankit has no use for: cankit's buses never hand back their own sends, take
/// filters as `filter`, and leave bit timing to the interface (`ip link`). In
/// the config file and in `CAN_CONFIG` they are ignored with a warning.
pub const PYTHON_CAN_ONLY: &[&str] = &[
    // every bus, and python-can's config loader
    "receive_own_messages",
    "can_filters",
    "timing",
    "f_clock",
    "brp",
    "tseg1",
    "tseg2",
    "sjw",
    "nof_samples",
    "nom_brp",
    "nom_tseg1",
    "nom_tseg2",
    "nom_sjw",
    "data_brp",
    "data_tseg1",
    "data_tseg2",
    "data_sjw",
    "state",
    // socketcan, virtual
    "local_loopback",
    "ignore_rx_error_frames",
    "rx_queue_size",
    "preserve_timestamps",
    "protocol",
    // vector, kvaser, pcan, nixnet
    "app_name",
    "serial",
    "poll_interval",
    "listen_only",
    "sjw_abr",
    "tseg1_abr",
    "tseg2_abr",
    "sjw_dbr",
    "tseg1_dbr",
    "tseg2_dbr",
    "single_handle",
    "accept_virtual",
    "driver_mode",
    "exclusive",
    "override_exclusive",
    "no_init_access",
    "no_samp",
    "fd_non_iso",
    "device_id",
    "auto_reset",
    "can_termination",
    "fd_bitrate",
    // serial adapters (slcan, serial, robotell, seeedstudio)
    "tty_baudrate",
    "ttyBaudrate",
    "baudrate",
    "rtscts",
    "timeout",
    "sleep_after_open",
    "btr",
];

/// The warning for a python-can option cankit ignores; `origin` says where it was.
fn ignored(key: &str, origin: &str) -> String {
    format!("ignoring python-can option '{key}' (not supported by cankit) in {origin}")
}

/// One table of the config file (or the environment, or the command line).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BusTable {
    /// Interface name.
    pub interface: Option<String>,
    /// Channel.
    pub channel: Option<String>,
    /// Bitrate in bit/s.
    pub bitrate: Option<u32>,
    /// CAN FD mode.
    pub fd: Option<bool>,
    /// CAN FD data bitrate.
    pub data_bitrate: Option<u32>,
    /// Filters in `ID:MASK,ID~MASK` syntax.
    pub filter: Option<String>,
    /// Backend options.
    pub options: BTreeMap<String, toml::Value>,
}

/// The entries of one table, with where they are in the file.
type Entries = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// `LINE:COLUMN` (1-based; the column counts characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> String {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("{line}:{col}")
}

/// A value as a message shows it (`"x"`, `5`, `a table`).
fn shown(v: &toml::Value) -> String {
    match v {
        toml::Value::Table(_) | toml::Value::Array(_) => format!("a {}", v.type_str()),
        other => other.to_string(),
    }
}

/// The number of single-character edits between two words.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The message for a key nobody knows: the nearest known key, and all of them.
fn unknown_key(key: &str) -> String {
    let near = KEYS
        .iter()
        .map(|k| (edit_distance(key, k), k))
        .filter(|(d, k)| *d <= 2 && *d < k.len() / 2 + 1)
        .min();
    let hint = near
        .map(|(_, k)| format!(" (did you mean '{k}'?)"))
        .unwrap_or_default();
    format!(
        "unknown key '{key}'{hint}; a table takes {} and options = {{ KEY = VALUE }} for the bus",
        KEYS[..KEYS.len() - 1].join(", ")
    )
}

impl BusTable {
    /// Reads one table of the config file. `at` turns a span into
    /// `FILE:LINE:COLUMN`; python-can's options become warnings.
    fn from_entries(
        entries: Entries,
        at: &dyn Fn(Range<usize>) -> String,
        warnings: &mut Vec<String>,
    ) -> Result<BusTable> {
        let mut t = BusTable::default();
        // in the file's order, so that messages come in reading order
        let mut entries: Vec<_> = entries.into_iter().collect();
        entries.sort_by_key(|(key, _)| key.span().start);
        for (key, value) in entries {
            let key_at = key.span();
            let key = key.into_inner();
            let value_at = value.span();
            let value = value.into_inner();
            let wrong = |want: &str| {
                Error::bad_config(
                    at(value_at.clone()),
                    format!("'{key}' must be {want}, not {}", shown(&value)),
                )
            };
            let text = match &value {
                toml::Value::String(s) => Some(s.clone()),
                toml::Value::Integer(i) => Some(i.to_string()),
                toml::Value::Boolean(b) => Some(b.to_string()),
                _ => None,
            };
            let number = || text.as_deref().and_then(|s| s.parse::<u32>().ok());
            match key.as_str() {
                "interface" | "bustype" => {
                    t.interface = Some(value.as_str().ok_or_else(|| wrong("a string"))?.into())
                }
                "channel" => {
                    t.channel = Some(
                        text.clone()
                            .filter(|_| !value.is_bool())
                            .ok_or_else(|| wrong("a string"))?,
                    )
                }
                "bitrate" => t.bitrate = Some(number().ok_or_else(|| wrong("a number of bit/s"))?),
                "data_bitrate" => {
                    t.data_bitrate = Some(number().ok_or_else(|| wrong("a number of bit/s"))?)
                }
                "fd" => {
                    t.fd = Some(
                        text.as_deref()
                            .and_then(parse_bool)
                            .ok_or_else(|| wrong("true or false"))?,
                    )
                }
                "filter" => {
                    let f = value.as_str().ok_or_else(|| wrong("a string"))?;
                    FilterSet::default()
                        .extend_from_str(f)
                        .map_err(|e| Error::bad_config(at(value_at.clone()), e.to_string()))?;
                    t.filter = Some(f.to_string());
                }
                "options" => {
                    let toml::Value::Table(options) = &value else {
                        return Err(wrong("a table such as { port = 43113 }"));
                    };
                    for (k, v) in options {
                        if PYTHON_CAN_ONLY.contains(&k.as_str()) {
                            warnings.push(ignored(k, &at(value_at.clone())));
                        } else {
                            t.options.insert(k.clone(), v.clone());
                        }
                    }
                }
                k if PYTHON_CAN_ONLY.contains(&k) => warnings.push(ignored(k, &at(key_at))),
                k => return Err(Error::bad_config(at(key_at), unknown_key(k))),
            }
        }
        Ok(t)
    }

    /// Fills the unset fields of `self` from `lower` (which has lower precedence).
    fn fill_from(&mut self, lower: &BusTable) {
        if self.interface.is_none() {
            self.interface = lower.interface.clone();
        }
        if self.channel.is_none() {
            self.channel = lower.channel.clone();
        }
        if self.bitrate.is_none() {
            self.bitrate = lower.bitrate;
        }
        if self.fd.is_none() {
            self.fd = lower.fd;
        }
        if self.data_bitrate.is_none() {
            self.data_bitrate = lower.data_bitrate;
        }
        if self.filter.is_none() {
            self.filter = lower.filter.clone();
        }
        for (k, v) in &lower.options {
            self.options.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// A parsed config file: `[default]` and named profiles.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigFile {
    /// Where it was read from.
    pub path: Option<PathBuf>,
    /// The `[default]` table.
    pub default: BusTable,
    /// Every other table, by name.
    pub profiles: BTreeMap<String, BusTable>,
    /// What was ignored (python-can's options), with where it was.
    pub warnings: Vec<String>,
}

impl ConfigFile {
    /// Parses config text; `path` is used in messages, with the line and column.
    pub fn parse(text: &str, path: &Path) -> Result<ConfigFile> {
        let at = |span: Range<usize>| format!("{}:{}", path.display(), line_col(text, span.start));
        let toml_error = |e: toml::de::Error| {
            let message = e.message().trim().replace('\n', "; ");
            match e.span() {
                Some(span) => Error::bad_config(at(span), message),
                None => Error::bad_config(path.display().to_string(), message),
            }
        };
        // First the shape: every top-level key must be a table.
        let top: Entries = toml::from_str(text).map_err(toml_error)?;
        if let Some((name, _)) = top.iter().find(|(_, v)| !v.get_ref().is_table()) {
            return Err(Error::bad_config(
                at(name.span()),
                format!(
                    "'{}' is outside any table: bus settings go under [default] or [PROFILE]",
                    name.get_ref()
                ),
            ));
        }
        let tables: BTreeMap<Spanned<String>, Entries> =
            toml::from_str(text).map_err(toml_error)?;
        let mut file = ConfigFile {
            path: Some(path.to_path_buf()),
            ..ConfigFile::default()
        };
        for (name, entries) in tables {
            let table = BusTable::from_entries(entries, &at, &mut file.warnings)?;
            let name = name.into_inner();
            if name == "default" {
                file.default = table;
            } else {
                file.profiles.insert(name, table);
            }
        }
        Ok(file)
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<ConfigFile> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::bad_config(
                path.display().to_string(),
                format!("cannot read the config file: {e}"),
            )
        })?;
        ConfigFile::parse(&text, path)
    }

    /// The file to use when `--config` is not given, if one exists.
    pub fn default_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
        let xdg = env("XDG_CONFIG_HOME")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|h| Path::new(&h).join(".config")));
        let candidates = xdg
            .map(|d| d.join("cankit/config.toml"))
            .into_iter()
            .chain(std::iter::once(PathBuf::from("/etc/cankit/config.toml")));
        candidates.into_iter().find(|p| p.is_file())
    }

    /// A profile by name, or an error listing the known ones.
    pub fn profile(&self, name: &str) -> Result<&BusTable> {
        self.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            Error::bad_config(
                self.path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "the config file".into()),
                format!(
                    "no profile '{name}' (profiles: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })
    }
}

/// The bus options as the command line gave them (all optional).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CliBus {
    /// `-i`.
    pub interface: Option<String>,
    /// `-c`.
    pub channel: Option<String>,
    /// `-b`.
    pub bitrate: Option<u32>,
    /// `--fd`.
    pub fd: bool,
    /// `--data-bitrate`.
    pub data_bitrate: Option<u32>,
    /// `--bus-opt KEY=VALUE`.
    pub options: Vec<(String, String)>,
    /// `--filter` (each may be a comma list).
    pub filters: Vec<String>,
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--profile NAME`.
    pub profile: Option<String>,
    /// `--no-config`.
    pub no_config: bool,
}

/// Reads python-can's environment variables into a table; python-can options
/// cankit ignores are added to `warnings`.
pub fn env_table(
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<BusTable> {
    let mut t = BusTable::default();
    if let Some(cfg) = env("CAN_CONFIG").filter(|s| !s.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(&cfg)
            .map_err(|e| Error::bad_config("CAN_CONFIG", format!("not JSON: {e}")))?;
        let obj = v.as_object().ok_or_else(|| {
            Error::bad_config(
                "CAN_CONFIG",
                r#"must be a JSON object such as {"interface": "virtual", "channel": "vcan0"}"#,
            )
        })?;
        for (k, v) in obj {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let bad = |what: &str| {
                Error::bad_config("CAN_CONFIG", format!("'{k}' must be {what}, not {v}"))
            };
            match k.as_str() {
                "interface" | "bustype" => t.interface = Some(text),
                "channel" => t.channel = Some(text),
                "bitrate" => t.bitrate = Some(text.parse().map_err(|_| bad("a number"))?),
                "data_bitrate" => t.data_bitrate = Some(text.parse().map_err(|_| bad("a number"))?),
                "fd" => t.fd = Some(parse_bool(&text).ok_or_else(|| bad("true or false"))?),
                k if PYTHON_CAN_ONLY.contains(&k) => warnings.push(ignored(k, "CAN_CONFIG")),
                _ => {
                    t.options.insert(k.clone(), toml::Value::String(text));
                }
            }
        }
    }
    // The single variables override CAN_CONFIG's keys, as in python-can.
    if let Some(v) = env("CAN_INTERFACE").filter(|s| !s.is_empty()) {
        t.interface = Some(v);
    }
    if let Some(v) = env("CAN_CHANNEL").filter(|s| !s.is_empty()) {
        t.channel = Some(v);
    }
    if let Some(v) = env("CAN_BITRATE").filter(|s| !s.is_empty()) {
        t.bitrate = Some(
            v.parse()
                .map_err(|_| Error::bad_config("CAN_BITRATE", format!("'{v}' is not a number")))?,
        );
    }
    Ok(t)
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn toml_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Warnings already given by this process (a tool resolves one bus per channel).
static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Resolves the settings of one bus from the command line, the environment
/// (`env` looks a variable up) and the config file, in that precedence. What
/// it ignores is logged as a warning, once per process.
pub fn resolve(cli: &CliBus, env: &dyn Fn(&str) -> Option<String>) -> Result<BusSettings> {
    let (settings, warnings) = resolve_with_warnings(cli, env)?;
    for w in warnings {
        let new = WARNED.lock().map(|mut said| said.insert(w.clone()));
        if new.unwrap_or(true) {
            log::warn!("{w}");
        }
    }
    Ok(settings)
}

/// [`resolve`], returning the warnings instead of logging them.
pub fn resolve_with_warnings(
    cli: &CliBus,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(BusSettings, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut t = BusTable {
        interface: cli.interface.clone(),
        channel: cli.channel.clone(),
        bitrate: cli.bitrate,
        fd: cli.fd.then_some(true),
        data_bitrate: cli.data_bitrate,
        filter: None,
        options: cli
            .options
            .iter()
            .map(|(k, v)| (k.clone(), toml::Value::String(v.clone())))
            .collect(),
    };
    if !cli.no_config {
        t.fill_from(&env_table(env, &mut warnings)?);
        let file = match &cli.config {
            Some(p) => Some(ConfigFile::load(p)?),
            None => match ConfigFile::default_path(env) {
                Some(p) => Some(ConfigFile::load(&p)?),
                None => None,
            },
        };
        if let Some(f) = &file {
            warnings.extend(f.warnings.iter().cloned());
        }
        match (&file, &cli.profile) {
            (Some(f), Some(name)) => t.fill_from(f.profile(name)?),
            (None, Some(name)) => {
                return Err(Error::bad_config(
                    format!("--profile {name}"),
                    "no config file (give --config FILE or create ~/.config/cankit/config.toml)",
                ))
            }
            _ => {}
        }
        if let Some(f) = &file {
            t.fill_from(&f.default);
        }
    } else if cli.profile.is_some() {
        return Err(Error::Config(
            "--profile cannot be used with --no-config".into(),
        ));
    }
    let mut filters = FilterSet::default();
    if cli.filters.is_empty() {
        if let Some(f) = &t.filter {
            filters.extend_from_str(f)?;
        }
    } else {
        for f in &cli.filters {
            filters.extend_from_str(f)?;
        }
    }
    let interface = t.interface.unwrap_or_else(|| DEFAULT_INTERFACE.to_string());
    let channel = t.channel.unwrap_or_else(|| default_channel(&interface));
    let settings = BusSettings {
        interface,
        channel,
        bitrate: t.bitrate,
        fd: t.fd.unwrap_or(false),
        data_bitrate: t.data_bitrate,
        options: t
            .options
            .iter()
            .map(|(k, v)| (k.clone(), toml_text(v)))
            .collect(),
        filters,
    };
    Ok((settings, warnings))
}

/// The channel an interface uses when none is configured.
pub fn default_channel(interface: &str) -> String {
    crate::bus::backend(interface)
        .map_or(DEFAULT_CHANNEL, |b| b.default_channel)
        .into()
}

/// Parses a bus given as one word, as `can-bridge --from/--to` take it:
/// `INTERFACE:CHANNEL[,KEY=VALUE...]` or the name of a config profile.
/// The interface may not contain ':', so IPv6 groups work as channels.
pub fn parse_bus_spec(spec: &str, base: &CliBus) -> Result<CliBus> {
    let mut cli = CliBus {
        config: base.config.clone(),
        no_config: base.no_config,
        filters: base.filters.clone(),
        ..CliBus::default()
    };
    match spec.split_once(':') {
        Some((iface, rest)) if !iface.is_empty() => {
            let mut parts = rest.split(',');
            let channel = parts.next().unwrap_or_default();
            cli.interface = Some(iface.to_string());
            if !channel.is_empty() {
                cli.channel = Some(channel.to_string());
            }
            for kv in parts {
                let (k, v) = kv.split_once('=').ok_or_else(|| {
                    Error::Config(format!("bus '{spec}': option '{kv}' is not KEY=VALUE"))
                })?;
                match k {
                    "bitrate" => {
                        cli.bitrate = Some(v.parse().map_err(|_| {
                            Error::Config(format!("bus '{spec}': bitrate '{v}' is not a number"))
                        })?)
                    }
                    "data_bitrate" => {
                        cli.data_bitrate = Some(v.parse().map_err(|_| {
                            Error::Config(format!(
                                "bus '{spec}': data_bitrate '{v}' is not a number"
                            ))
                        })?)
                    }
                    "fd" => {
                        cli.fd = parse_bool(v).ok_or_else(|| {
                            Error::Config(format!("bus '{spec}': fd must be true or false"))
                        })?
                    }
                    _ => cli.options.push((k.to_string(), v.to_string())),
                }
            }
            // A spelled-out bus does not take interface/channel from the environment.
            cli.no_config = true;
        }
        _ => {
            if spec.is_empty() {
                return Err(Error::Config("empty bus name".into()));
            }
            cli.profile = Some(spec.to_string());
        }
    }
    Ok(cli)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| m.get(k).cloned()
    }

    fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config.toml");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    const FILE: &str = r#"
[default]
interface = "udp_multicast"
channel = "239.74.163.2"
bitrate = 250000
options = { port = 43113 }

[car]
interface = "socketcan"
channel = "can0"
bitrate = 500000
fd = true
filter = "7E8:7F8"
"#;

    #[test]
    fn nothing_configured_is_virtual_vcan0() {
        let s = resolve(&CliBus::default(), &env_of(&[])).unwrap();
        assert_eq!(
            (s.interface.as_str(), s.channel.as_str()),
            ("virtual", "vcan0")
        );
        assert!(s.filters.is_empty() && s.bitrate.is_none() && !s.fd);
    }

    #[test]
    fn precedence_cli_env_profile_default() {
        let (_d, path) = write_config(FILE);
        let base = CliBus {
            config: Some(path.clone()),
            ..CliBus::default()
        };
        // default table only
        let s = resolve(&base, &env_of(&[])).unwrap();
        assert_eq!(s.interface, "udp_multicast");
        assert_eq!(s.bitrate, Some(250000));
        assert_eq!(s.options.get("port").map(String::as_str), Some("43113"));
        // profile over default; unset profile keys fall back to default
        let prof = CliBus {
            profile: Some("car".into()),
            ..base.clone()
        };
        let s = resolve(&prof, &env_of(&[])).unwrap();
        assert_eq!(
            (s.interface.as_str(), s.channel.as_str()),
            ("socketcan", "can0")
        );
        assert_eq!(s.bitrate, Some(500000));
        assert!(s.fd);
        assert_eq!(s.filters.to_string(), "7E8:7F8");
        assert_eq!(s.options.get("port").map(String::as_str), Some("43113"));
        // environment over profile
        let env = env_of(&[("CAN_CHANNEL", "can7"), ("CAN_BITRATE", "125000")]);
        let s = resolve(&prof, &env).unwrap();
        assert_eq!(s.channel, "can7");
        assert_eq!(s.bitrate, Some(125000));
        assert_eq!(s.interface, "socketcan");
        // command line over environment
        let cli = CliBus {
            channel: Some("can9".into()),
            filters: vec!["123:7FF".into()],
            ..prof.clone()
        };
        let s = resolve(&cli, &env).unwrap();
        assert_eq!(s.channel, "can9");
        assert_eq!(s.filters.to_string(), "123:7FF");
        // --no-config ignores file and environment
        let none = CliBus {
            no_config: true,
            ..base
        };
        let s = resolve(&none, &env).unwrap();
        assert_eq!(
            (s.interface.as_str(), s.channel.as_str()),
            ("virtual", "vcan0")
        );
    }

    #[test]
    fn can_config_json_and_single_variables() {
        let env = env_of(&[
            (
                "CAN_CONFIG",
                r#"{"interface": "udp_multicast", "channel": "239.74.163.2", "bitrate": 500000, "port": 5000, "fd": true}"#,
            ),
            ("CAN_CHANNEL", "239.74.163.9"),
        ]);
        let s = resolve(&CliBus::default(), &env).unwrap();
        assert_eq!(s.interface, "udp_multicast");
        assert_eq!(s.channel, "239.74.163.9");
        assert_eq!(s.bitrate, Some(500000));
        assert!(s.fd);
        assert_eq!(s.options.get("port").map(String::as_str), Some("5000"));
        assert!(resolve(&CliBus::default(), &env_of(&[("CAN_CONFIG", "[1]")])).is_err());
        assert!(resolve(&CliBus::default(), &env_of(&[("CAN_BITRATE", "fast")])).is_err());
    }

    #[test]
    fn default_file_location() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("cankit")).unwrap();
        std::fs::write(
            d.path().join("cankit/config.toml"),
            "[default]\nchannel = \"from-xdg\"\n",
        )
        .unwrap();
        let xdg = d.path().to_string_lossy().to_string();
        let s = resolve(&CliBus::default(), &env_of(&[("XDG_CONFIG_HOME", &xdg)])).unwrap();
        assert_eq!(s.channel, "from-xdg");
    }

    #[test]
    fn errors_are_clear() {
        let (_d, path) = write_config(FILE);
        let cli = CliBus {
            config: Some(path.clone()),
            profile: Some("boat".into()),
            ..CliBus::default()
        };
        let e = resolve(&cli, &env_of(&[])).unwrap_err().to_string();
        assert!(e.contains("no profile 'boat'") && e.contains("car"), "{e}");
        let (_d2, bad) = write_config("[default]\nchanel = 1\n");
        let e = resolve(
            &CliBus {
                config: Some(bad),
                ..CliBus::default()
            },
            &env_of(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("chanel"), "{e}");
        let missing = CliBus {
            config: Some("/nonexistent/cankit.toml".into()),
            ..CliBus::default()
        };
        assert!(resolve(&missing, &env_of(&[])).is_err());
    }

    #[test]
    fn file_errors_have_line_and_column() {
        let err = |text: &str| {
            ConfigFile::parse(text, Path::new("c.toml"))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("[default]\ninterface = virtual\n"),
            "c.toml:2:13: invalid string; expected `\"`, `'`"
        );
        assert_eq!(
            err("[default]\nchanel = \"x\"\n"),
            "c.toml:2:1: unknown key 'chanel' (did you mean 'channel'?); a table takes \
             interface, channel, bitrate, fd, data_bitrate, filter and options = { KEY = VALUE } for the bus"
        );
        assert!(err("[a]\nportt = 1\n").starts_with("c.toml:2:1: unknown key 'portt'; "));
        assert!(err("[x]\n  fd = \"maybe\"\n")
            .starts_with("c.toml:2:8: 'fd' must be true or false, not \"maybe\""));
        assert!(err("[x]\nbitrate = -1\n").starts_with("c.toml:2:11: 'bitrate' must be a number"));
        assert!(err("[x]\noptions = 3\n").starts_with("c.toml:2:11: 'options' must be a table"));
        assert!(err("x = 1\n").starts_with("c.toml:1:1: 'x' is outside any table"));
        assert!(err("[x]\nfilter = \"1:2:3\"\n").starts_with("c.toml:2:10: bad filter"));
        // errors of the file are config errors, not usage errors
        assert!(matches!(
            ConfigFile::parse("[x]\nfoo = 1\n", Path::new("c.toml")),
            Err(Error::BadConfig { .. })
        ));
    }

    #[test]
    fn values_python_can_writes_are_read() {
        let f = ConfigFile::parse(
            "[x]\nbustype = \"virtual\"\nchannel = 0\nbitrate = \"500000\"\nfd = \"true\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        let t = &f.profiles["x"];
        assert_eq!(t.interface.as_deref(), Some("virtual"));
        assert_eq!(t.channel.as_deref(), Some("0"));
        assert_eq!(t.bitrate, Some(500000));
        assert_eq!(t.fd, Some(true));
    }

    #[test]
    fn python_can_options_are_ignored_with_a_warning() {
        let (_d, path) = write_config(
            "[default]\ninterface = \"virtual\"\nreceive_own_messages = true\n\
             options = { send_timeout = \"1\", app_name = \"x\" }\n",
        );
        let cli = CliBus {
            config: Some(path.clone()),
            ..CliBus::default()
        };
        let env = env_of(&[(
            "CAN_CONFIG",
            r#"{"single_handle": true, "timing": "x", "port": 5000}"#,
        )]);
        let (s, warnings) = resolve_with_warnings(&cli, &env).unwrap();
        let file = path.display();
        assert_eq!(
            warnings,
            [
                "ignoring python-can option 'single_handle' (not supported by cankit) in CAN_CONFIG".to_string(),
                "ignoring python-can option 'timing' (not supported by cankit) in CAN_CONFIG".to_string(),
                format!("ignoring python-can option 'receive_own_messages' (not supported by cankit) in {file}:3:1"),
                format!("ignoring python-can option 'app_name' (not supported by cankit) in {file}:4:11"),
            ]
        );
        // what cankit knows still arrives; the rest is for the backend to judge
        let keys: Vec<&str> = s.options.keys().map(String::as_str).collect();
        assert_eq!(keys, ["port", "send_timeout"]);
        // the variables' errors name the variable
        let e = resolve(
            &CliBus::default(),
            &env_of(&[("CAN_CONFIG", "{\"fd\": 7}")]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "CAN_CONFIG: 'fd' must be true or false, not 7");
    }

    #[test]
    fn nearest_keys() {
        assert_eq!(edit_distance("chanel", "channel"), 1);
        assert_eq!(edit_distance("", "fd"), 2);
        assert_eq!(edit_distance("bitrate", "bitrate"), 0);
        assert!(unknown_key("filtr").contains("did you mean 'filter'?"));
        assert!(!unknown_key("xy").contains("did you mean"));
        assert_eq!(line_col("ab\ncdé\nx", 7), "2:4");
        assert_eq!(line_col("ab", 99), "1:3");
    }

    #[test]
    fn bus_specs() {
        let base = CliBus::default();
        let c = parse_bus_spec("virtual:a", &base).unwrap();
        assert_eq!(c.interface.as_deref(), Some("virtual"));
        assert_eq!(c.channel.as_deref(), Some("a"));
        let c = parse_bus_spec("udp_multicast:ff15:7079::1,port=5000,fd=true", &base).unwrap();
        assert_eq!(c.channel.as_deref(), Some("ff15:7079::1"));
        assert_eq!(c.options, vec![("port".to_string(), "5000".to_string())]);
        assert!(c.fd);
        let c = parse_bus_spec("car", &base).unwrap();
        assert_eq!(c.profile.as_deref(), Some("car"));
        assert!(parse_bus_spec("virtual:a,junk", &base).is_err());
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    #[test]
    fn the_shipped_example_parses_and_resolves() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config.toml");
        let file = ConfigFile::load(&path).unwrap();
        assert_eq!(file.default.interface.as_deref(), Some("virtual"));
        let cli = CliBus {
            config: Some(path),
            profile: Some("lab".into()),
            ..CliBus::default()
        };
        let s = resolve(&cli, &|_| None).unwrap();
        assert_eq!(s.interface, "udp_multicast");
        assert_eq!(s.options.get("port").map(String::as_str), Some("43113"));
    }
}
