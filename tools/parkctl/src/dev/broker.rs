//! The local broker: Debian's `mosquitto`, started and stopped by
//! `parkctl dev up`, on 127.0.0.1 with TLS client certificates only.
//!
//! What it enforces, as IoT Core does with the policies:
//! - `require_certificate`: no certificate signed by the development CA,
//!   no connection; `crlfile`: a revoked certificate is refused at the
//!   handshake.
//! - `use_identity_as_username` and `use_username_as_clientid`: the
//!   certificate's common name (the thing's name) is the client's user
//!   name and client id, whatever client id it asked for, so a device
//!   cannot connect as another or push another off (IoT Core: connect
//!   only as `${iot:Connection.Thing.ThingName}`).
//! - `acl_file`: each thing's grants ([`super::registry::Registry::acl`]);
//!   anything else is refused (an MQTT 5 client gets `135 not
//!   authorized` on its publish).
//!
//! A new thing is granted within `dev up`'s next look at the registry, a
//! quarter of a second (the access list is reloaded on `SIGHUP`); a
//! revocation restarts the broker, which closes every
//! connection and reads the new revocation list, so a revoked device is
//! off at once and cannot come back (on IoT Core: set the certificate
//! `REVOKED`, which closes its connection).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::pki::{CA_CERT, CRL};
use crate::UsageError;

pub const SERVER_CERT: &str = "broker.pem";
pub const SERVER_KEY: &str = "broker.key";
const CONFIG: &str = "mosquitto.conf";
const ACL: &str = "acl";

/// The `mosquitto` to run: `--mosquitto`, else on the `PATH`, else
/// Debian's `/usr/sbin/mosquitto`.
pub fn find(given: Option<&Path>) -> Result<PathBuf, UsageError> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("mosquitto"))
        .chain([PathBuf::from("/usr/sbin/mosquitto")])
        .find(|p| p.is_file());
    on_path.ok_or_else(|| {
        UsageError(
            "mosquitto is not installed (Debian: apt-get install mosquitto mosquitto-clients), or give --mosquitto".into(),
        )
    })
}

/// A running broker.
pub struct Broker {
    program: PathBuf,
    dir: PathBuf,
    pub port: u16,
    child: Child,
}

impl Broker {
    /// Writes the configuration and starts the broker on `port`.
    ///
    /// # Errors
    ///
    /// The files cannot be written, or the broker does not start listening
    /// within 10 s (its log is `mosquitto.log` in `dir`).
    pub async fn start(
        program: PathBuf,
        dir: &Path,
        port: u16,
        acl: &str,
    ) -> Result<Broker, UsageError> {
        let d = dir.display();
        // Started as root, mosquitto would switch to its own user, which
        // cannot read the keys (readable by their owner only): stay.
        let user = std::process::Command::new("id")
            .arg("-un")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .map_or(String::new(), |u| format!("user {u}\n"));
        let config = format!(
            "# Made by parkctl dev.\n\
             {user}\
             per_listener_settings false\n\
             persistence false\n\
             allow_anonymous false\n\
             acl_file {d}/{ACL}\n\
             log_dest file {d}/mosquitto.log\n\
             log_type error\nlog_type warning\nlog_type notice\nlog_type information\n\
             connection_messages true\n\
             listener {port} 127.0.0.1\n\
             protocol mqtt\n\
             use_identity_as_username true\n\
             use_username_as_clientid true\n\
             cafile {d}/{CA_CERT}\n\
             certfile {d}/{SERVER_CERT}\n\
             keyfile {d}/{SERVER_KEY}\n\
             require_certificate true\n\
             crlfile {d}/{CRL}\n\
             tls_version tlsv1.2\n"
        );
        let path = dir.join(CONFIG);
        std::fs::write(&path, config)
            .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
        write_acl(dir, acl)?;
        let child = spawn(&program, dir)?;
        let mut broker = Broker {
            program,
            dir: dir.to_path_buf(),
            port,
            child,
        };
        broker.wait_listening().await?;
        Ok(broker)
    }

    async fn wait_listening(&mut self) -> Result<(), UsageError> {
        for _ in 0..100 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(UsageError(format!(
                    "mosquitto stopped ({status}); see {}/mosquitto.log",
                    self.dir.display()
                )));
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(UsageError(format!(
            "mosquitto is not listening on 127.0.0.1:{} after 10 s",
            self.port
        )))
    }

    /// Grants what the access list now says, to every client at once.
    ///
    /// # Errors
    ///
    /// The access list cannot be written or the broker is gone.
    pub fn reload(&self, acl: &str) -> Result<(), UsageError> {
        write_acl(&self.dir, acl)?;
        let pid = self
            .child
            .id()
            .ok_or_else(|| UsageError("mosquitto has stopped".into()))?;
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .map_err(|e| UsageError(format!("kill: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(UsageError("mosquitto has stopped".into()))
        }
    }

    /// Restarts the broker: every connection is closed, and every client
    /// must connect again past the new revocation list.
    ///
    /// # Errors
    ///
    /// The broker does not come back.
    pub async fn restart(&mut self, acl: &str) -> Result<(), UsageError> {
        self.stop().await;
        write_acl(&self.dir, acl)?;
        // The port was just released; wait for it to be free to bind.
        self.child = spawn(&self.program, &self.dir)?;
        self.wait_listening().await
    }

    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

fn write_acl(dir: &Path, acl: &str) -> Result<(), UsageError> {
    let path = dir.join(ACL);
    std::fs::write(&path, acl).map_err(|e| UsageError(format!("{}: {e}", path.display())))
}

fn spawn(program: &Path, dir: &Path) -> Result<Child, UsageError> {
    Command::new(program)
        .arg("-c")
        .arg(dir.join(CONFIG))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| UsageError(format!("{}: {e}", program.display())))
}
