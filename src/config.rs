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
//! options = { receive_own_messages = "false" }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::bus::{BusSettings, DEFAULT_CHANNEL, DEFAULT_INTERFACE};
use crate::error::{Error, Result};
use crate::filter::FilterSet;

/// One table of the config file (or the environment, or the command line).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
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
    #[serde(default)]
    pub options: BTreeMap<String, toml::Value>,
}

impl BusTable {
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
}

impl ConfigFile {
    /// Parses config text; `path` is used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<ConfigFile> {
        let tables: BTreeMap<String, BusTable> = toml::from_str(text)
            .map_err(|e| Error::Config(format!("{}: {}", path.display(), e.message())))?;
        let mut file = ConfigFile {
            path: Some(path.to_path_buf()),
            ..ConfigFile::default()
        };
        for (name, table) in tables {
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
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading config file {}", path.display()), e))?;
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
            Error::Config(format!(
                "no profile '{name}' in {} (profiles: {})",
                self.path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "the config file".into()),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
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

/// Reads python-can's environment variables into a table.
pub fn env_table(env: &dyn Fn(&str) -> Option<String>) -> Result<BusTable> {
    let mut t = BusTable::default();
    if let Some(cfg) = env("CAN_CONFIG").filter(|s| !s.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(&cfg)
            .map_err(|e| Error::Config(format!("CAN_CONFIG is not a JSON object: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| Error::Config("CAN_CONFIG must be a JSON object".into()))?;
        for (k, v) in obj {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let bad = |what: &str| Error::Config(format!("CAN_CONFIG: '{k}' must be {what}"));
            match k.as_str() {
                "interface" | "bustype" => t.interface = Some(text),
                "channel" => t.channel = Some(text),
                "bitrate" => t.bitrate = Some(text.parse().map_err(|_| bad("a number"))?),
                "data_bitrate" => t.data_bitrate = Some(text.parse().map_err(|_| bad("a number"))?),
                "fd" => t.fd = Some(parse_bool(&text).ok_or_else(|| bad("true or false"))?),
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
                .map_err(|_| Error::Config(format!("CAN_BITRATE '{v}' is not a number")))?,
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

/// Resolves the settings of one bus from the command line, the environment
/// (`env` looks a variable up) and the config file, in that precedence.
pub fn resolve(cli: &CliBus, env: &dyn Fn(&str) -> Option<String>) -> Result<BusSettings> {
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
        t.fill_from(&env_table(env)?);
        let file = match &cli.config {
            Some(p) => Some(ConfigFile::load(p)?),
            None => match ConfigFile::default_path(env) {
                Some(p) => Some(ConfigFile::load(&p)?),
                None => None,
            },
        };
        match (&file, &cli.profile) {
            (Some(f), Some(name)) => t.fill_from(f.profile(name)?),
            (None, Some(name)) => {
                return Err(Error::Config(format!(
                    "--profile {name}: no config file (give --config FILE or create ~/.config/cankit/config.toml)"
                )))
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
    Ok(BusSettings {
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
    })
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
