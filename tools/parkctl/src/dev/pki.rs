//! The development directory's certificate authority: a device is its
//! certificate, as on IoT Core. The CA signs the broker's certificate
//! (for `127.0.0.1` and `localhost`), the bridge's and every device's
//! (common name: the thing's name, which the broker takes as the client's
//! user name and client id), and the revocation list the broker checks at
//! every connection. Keys are ECDSA P-256, written readable by the owner
//! only.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SerialNumber,
};
use sha2::{Digest, Sha256};

use crate::UsageError;

pub const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca.key";
pub const CRL: &str = "crl.pem";

fn err(what: &str) -> impl Fn(rcgen::Error) -> UsageError + '_ {
    move |e| UsageError(format!("{what}: {e}"))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> UsageError + '_ {
    move |e| UsageError(format!("{}: {e}", path.display()))
}

/// Writes a file readable by the owner only (a private key).
fn write_private(path: &Path, text: &str) -> Result<(), UsageError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(text.as_bytes()).map_err(io(path))
}

fn ca_params() -> Result<CertificateParams, UsageError> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(err("CA"))?;
    p.distinguished_name
        .push(DnType::CommonName, "Seamless Parking development CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.key_identifier_method = KeyIdMethod::Sha256;
    Ok(p)
}

/// The CA of `dir`, made on first use.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// # Errors
    ///
    /// The CA's files cannot be read or written.
    pub fn open(dir: &Path) -> Result<Ca, UsageError> {
        let key_path = dir.join(CA_KEY);
        let key = match std::fs::read_to_string(&key_path) {
            Ok(pem) => KeyPair::from_pem(&pem).map_err(err("CA key"))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = KeyPair::generate().map_err(err("CA key"))?;
                let cert = ca_params()?.self_signed(&key).map_err(err("CA"))?;
                write_private(&key_path, &key.serialize_pem())?;
                let cert_path = dir.join(CA_CERT);
                std::fs::write(&cert_path, cert.pem()).map_err(io(&cert_path))?;
                key
            }
            Err(e) => return Err(io(&key_path)(e)),
        };
        Ok(Ca {
            issuer: Issuer::new(ca_params()?, key),
        })
    }

    /// Issues a certificate for `name` into `cert_path` and `key_path`;
    /// its serial number (hex).
    ///
    /// # Errors
    ///
    /// The files cannot be written.
    pub fn issue(
        &self,
        name: &str,
        server: bool,
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<String, UsageError> {
        let sans = if server {
            vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
        } else {
            Vec::new()
        };
        let mut p = CertificateParams::new(sans).map_err(err(name))?;
        p.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().map_err(err(name))?;
        // Unique as the fresh key is: the first 16 bytes of its hash.
        let digest = Sha256::digest(key.public_key_pem().as_bytes());
        let mut serial = [0u8; 16];
        serial.copy_from_slice(&digest[..16]);
        serial[0] &= 0x7f;
        p.serial_number = Some(SerialNumber::from_slice(&serial));
        p.use_authority_key_identifier_extension = true;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let cert = p.signed_by(&key, &self.issuer).map_err(err(name))?;
        write_private(key_path, &key.serialize_pem())?;
        std::fs::write(cert_path, cert.pem()).map_err(io(cert_path))?;
        Ok(hex::encode(serial))
    }

    /// Writes the revocation list of `serials` (hex) into `dir`.
    ///
    /// # Errors
    ///
    /// A serial that is not hex, or the file cannot be written.
    pub fn write_crl(&self, dir: &Path, serials: &[String]) -> Result<(), UsageError> {
        let now = time::OffsetDateTime::now_utc();
        let revoked = serials
            .iter()
            .map(|s| {
                Ok(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(
                        &hex::decode(s)
                            .map_err(|_| UsageError(format!("serial {s} is not hex")))?,
                    ),
                    revocation_time: now,
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>, UsageError>>()?;
        let number = u64::try_from(now.unix_timestamp()).unwrap_or_default();
        let crl = CertificateRevocationListParams {
            this_update: now - time::Duration::minutes(1),
            next_update: now + time::Duration::days(365),
            crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs: revoked,
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&self.issuer)
        .map_err(err("revocation list"))?;
        let path = dir.join(CRL);
        std::fs::write(&path, crl.pem().map_err(err("revocation list"))?).map_err(io(&path))
    }
}
