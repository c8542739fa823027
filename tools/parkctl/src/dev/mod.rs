//! `parkctl dev`: a real MQTT path on 127.0.0.1 to test devices and
//! firmware against, with the cloud's rules.
//!
//! - `dev provision` makes a thing: a certificate signed by the
//!   directory's CA, whose common name is the thing's name, and its
//!   attributes (lot, gate or bay), in `things.json`.
//! - `dev up` runs Debian's `mosquitto` ([`broker`]) with TLS client
//!   certificates and the things' grants as its access list, and a bridge
//!   ([`bridge`]) that hands every device message to the same handler as
//!   the Lambda functions, with the fields the IoT rule adds, over an
//!   in-memory store seeded with the demo lot; gate commands go back to
//!   the gate over MQTT.
//! - `dev revoke` takes a thing's certificate away; the broker drops it at
//!   once.
//! - `dev emulate` drives cars through a lot's gates as real MQTT
//!   clients, each gate following the reference firmware
//!   ([`parking_app::gate_device`]).
//!
//! Why mosquitto and not a broker embedded in Rust: firmware is tested
//! against the broker most gate and sensor vendors already ship against,
//! with its real TLS handshake, revocation list and access control, and
//! `mosquitto_pub`/`mosquitto_sub` come with it; the Rust brokers have no
//! per-client access lists to mirror the IoT policies with.

mod bridge;
mod broker;
mod emulate;
mod pki;
mod registry;

use std::path::{Path, PathBuf};

use parking_app::{BayId, DeviceId, DeviceKind, GateId, LotId};

use crate::UsageError;
use registry::{Registry, Thing};

#[derive(clap::Subcommand)]
pub enum Action {
    /// Run the broker and the bridge to the handlers until interrupted.
    Up(bridge::Args),
    /// Make a device's key and certificate (again: a rotation, the old
    /// certificate revoked).
    Provision(ProvisionArgs),
    /// Revoke a device's certificate: it is disconnected and cannot come
    /// back.
    Revoke(RevokeArgs),
    /// Drive cars through a lot's entry and exit gates as MQTT clients.
    Emulate(emulate::Args),
}

#[derive(clap::Args)]
pub struct ProvisionArgs {
    /// The development directory (the CA, the things, the broker's files).
    #[arg(long, default_value = "target/dev")]
    pub dir: PathBuf,
    #[arg(long)]
    pub lot: String,
    /// The gate, for a camera or a barrier.
    #[arg(long, conflicts_with = "bay", required_unless_present = "bay")]
    pub gate: Option<String>,
    /// The bay, for a bay sensor.
    #[arg(long)]
    pub bay: Option<String>,
    /// A gate device's kind.
    #[arg(long, value_enum, default_value = "camera")]
    pub kind: GateKind,
    /// The thing's name (default: `{lot}-cam-{gate}`, `{lot}-bar-{gate}`,
    /// `{lot}-sensor-{bay}`).
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum GateKind {
    Camera,
    Barrier,
}

#[derive(clap::Args)]
pub struct RevokeArgs {
    #[arg(long, default_value = "target/dev")]
    pub dir: PathBuf,
    /// The thing's name.
    #[arg(long)]
    pub name: String,
}

/// Where a thing's key and certificate are.
pub fn thing_files(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let d = dir.join("things").join(name);
    (d.join("cert.pem"), d.join("key.pem"))
}

fn parse<T>(
    field: &str,
    text: &str,
    f: impl Fn(&str) -> Result<T, parking_app::IdError>,
) -> Result<T, UsageError> {
    f(text).map_err(|e| UsageError(format!("--{field}: {e}")))
}

/// Provisions a thing; what was written, as JSON.
///
/// # Errors
///
/// A bad id, another active thing at the same gate or bay, a revoked
/// name, or files that cannot be written.
pub fn provision(args: &ProvisionArgs) -> Result<serde_json::Value, UsageError> {
    let lot = parse("lot", &args.lot, LotId::parse)?;
    let gate = args
        .gate
        .as_deref()
        .map(|g| parse("gate", g, GateId::parse))
        .transpose()?;
    let bay = args
        .bay
        .as_deref()
        .map(|b| parse("bay", b, BayId::parse))
        .transpose()?;
    let kind = match (&bay, args.kind) {
        (Some(_), _) => DeviceKind::BaySensor,
        (None, GateKind::Camera) => DeviceKind::Camera,
        (None, GateKind::Barrier) => DeviceKind::Barrier,
    };
    let default_name = match (&gate, &bay, kind) {
        (_, Some(b), _) => format!("{lot}-sensor-{b}"),
        (Some(g), _, DeviceKind::Barrier) => format!("{lot}-bar-{g}"),
        (Some(g), _, _) => format!("{lot}-cam-{g}"),
        (None, None, _) => return Err(UsageError("give --gate or --bay".into())),
    };
    let name = parse(
        "name",
        args.name.as_deref().unwrap_or(&default_name),
        DeviceId::parse,
    )?;
    if name.as_str() == registry::BRIDGE || name.as_str().contains(':') {
        return Err(UsageError(format!(
            "--name: {name} is reserved (the bridge) or holds ':'"
        )));
    }
    let dir = &args.dir;
    std::fs::create_dir_all(dir.join("things").join(name.as_str()))
        .map_err(|e| UsageError(format!("{}: {e}", dir.display())))?;
    let ca = pki::Ca::open(dir)?;
    let mut registry = Registry::load(dir)?;
    let wanted = Thing {
        name: name.clone(),
        kind,
        lot,
        gate,
        bay,
        serial: String::new(),
        revoked: false,
        revoked_serials: Vec::new(),
    };
    if let Some(other) = registry.taken_by(&wanted) {
        return Err(UsageError(format!(
            "{} already speaks for that gate or bay; revoke it first (parkctl dev revoke --name {})",
            other.name, other.name
        )));
    }
    let (cert, key) = thing_files(dir, name.as_str());
    let mut rotated = None;
    match registry.get_mut(&name) {
        Some(t) if t.revoked => {
            return Err(UsageError(format!(
                "{name} is revoked; provision the device under a new name"
            )));
        }
        Some(t)
            if t.lot != wanted.lot
                || t.gate != wanted.gate
                || t.bay != wanted.bay
                || t.kind != kind =>
        {
            return Err(UsageError(format!(
                "{name} speaks for another place; revoke it and provision under a new name"
            )));
        }
        Some(t) => {
            let serial = ca.issue(name.as_str(), false, &cert, &key)?;
            let old = std::mem::replace(&mut t.serial, serial);
            t.revoked_serials.push(old.clone());
            rotated = Some(old);
        }
        None => {
            let serial = ca.issue(name.as_str(), false, &cert, &key)?;
            registry.things.push(Thing { serial, ..wanted });
        }
    }
    ca.write_crl(dir, &registry.revoked_serials())?;
    registry.save(dir)?;
    Ok(serde_json::json!({
        "thing": name.as_str(),
        "cert": cert,
        "key": key,
        "ca": dir.join(pki::CA_CERT),
        "rotated_from_serial": rotated,
    }))
}

/// Revokes a thing's certificate.
///
/// # Errors
///
/// An unknown name, or files that cannot be written.
pub fn revoke(args: &RevokeArgs) -> Result<serde_json::Value, UsageError> {
    let dir = &args.dir;
    let mut registry = Registry::load(dir)?;
    let name = parse("name", &args.name, DeviceId::parse)?;
    let Some(t) = registry.get_mut(&name) else {
        return Err(UsageError(format!(
            "--name: no thing {name} in {}",
            dir.display()
        )));
    };
    if !t.revoked {
        t.revoked = true;
        let serial = t.serial.clone();
        t.revoked_serials.push(serial);
    }
    pki::Ca::open(dir)?.write_crl(dir, &registry.revoked_serials())?;
    registry.save(dir)?;
    Ok(serde_json::json!({ "thing": name.as_str(), "revoked": true }))
}

/// Runs `parkctl dev …`.
///
/// # Errors
///
/// What the action reports.
pub fn run_cli(action: &Action) -> Result<(), UsageError> {
    match action {
        Action::Provision(args) => crate::print_json(&provision(args)?),
        Action::Revoke(args) => crate::print_json(&revoke(args)?),
        Action::Up(args) => runtime()?.block_on(bridge::up(args)),
        Action::Emulate(args) => runtime()?.block_on(emulate::run(args)),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, UsageError> {
    // One TLS crypto provider for the process: the one the AWS SDK links.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the runtime: {e}")))
}

/// The MQTT options of a client of the local broker with the certificate
/// of `name`.
///
/// # Errors
///
/// The certificate or key cannot be read.
pub fn mqtt_options(
    dir: &Path,
    port: u16,
    name: &str,
    cert: &Path,
    key: &Path,
) -> Result<rumqttc::MqttOptions, UsageError> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| UsageError(format!("{}: {e}", p.display())));
    let mut o = rumqttc::MqttOptions::new(name, "127.0.0.1", port);
    o.set_keep_alive(std::time::Duration::from_secs(30));
    o.set_clean_session(true);
    o.set_transport(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Simple {
            ca: read(&dir.join(pki::CA_CERT))?,
            alpn: None,
            client_auth: Some((read(cert)?, read(key)?)),
        },
    ));
    Ok(o)
}

/// The port `dev up` listens on, from the file it writes.
///
/// # Errors
///
/// No broker has been started in `dir`.
pub fn broker_port(dir: &Path) -> Result<u16, UsageError> {
    let path = dir.join(bridge::BROKER_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        UsageError(format!(
            "{}: {e} (is `parkctl dev up` running?)",
            path.display()
        ))
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
    v["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| UsageError(format!("{}: no port", path.display())))
}
