//! Certificate TLS with rustls (TLS 1.2 and 1.3, ring provider): CA file,
//! optional client certificate and key (PKCS#1, PKCS#8, SEC1, encrypted
//! PKCS#8), hostname verification on by default. rustls is driven by hand so
//! that it runs on the engine's non-blocking socket.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct,
    RootCertStore, SignatureScheme,
};

use super::{is_reset, Transport};
use crate::error::ConnectError;
use crate::options::{Options, TlsVersion};
use crate::secret::Secret;

/// A rustls configuration built from CAFILE, CERTFILE, KEYFILE and friends.
/// Plaintext and records rustls may hold beyond what the socket took.
const TLS_BUFFER_LIMIT: usize = 64 * 1024;

pub(crate) struct CertificateTls {
    config: Arc<ClientConfig>,
    ca_file: String,
    has_client_certificate: bool,
    /// ALPN: offered, and one of them required from the broker.
    alpn: Vec<String>,
}

impl CertificateTls {
    pub(crate) fn from_options(options: &Options) -> Result<CertificateTls, ConnectError> {
        let ca_path = options
            .ca_file
            .as_deref()
            .ok_or_else(|| ConnectError::Tls("certificate TLS needs CAFILE".to_owned()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&'static rustls::SupportedProtocolVersion] = match options.tls_version {
            TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
            TlsVersion::Tls13 => &[&rustls::version::TLS13],
        };

        let mut roots = RootCertStore::empty();
        for cert in load_certificates("CAFILE", ca_path)? {
            roots.add(cert).map_err(|e| ConnectError::File {
                option: "CAFILE",
                path: display(ca_path),
                reason: format!("not a usable CA certificate: {e}"),
            })?;
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| ConnectError::Tls(format!("cannot use CAFILE: {e}")))?;
        let verifier: Arc<dyn ServerCertVerifier> = if options.verify_hostname {
            webpki
        } else {
            Arc::new(IgnoreHostname(webpki))
        };

        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(|e| ConnectError::Tls(format!("TLSVERSION: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);

        let config = match (&options.cert_file, &options.key_file) {
            (Some(cert_path), Some(key_path)) => {
                let chain = load_certificates("CERTFILE", cert_path)?;
                let key = load_private_key(key_path, options.key_password.as_ref())?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    ConnectError::KeyUnusable {
                        path: display(key_path),
                        reason: match e {
                            rustls::Error::InconsistentKeys(_) => format!(
                                "it is not the private key of the certificate in CERTFILE '{}'",
                                display(cert_path)
                            ),
                            other => format!(
                                "cannot be used with CERTFILE '{}': {other}",
                                display(cert_path)
                            ),
                        },
                    }
                })?
            }
            _ => builder.with_no_client_auth(),
        };
        let mut config = config;
        config.alpn_protocols = options.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Ok(CertificateTls {
            alpn: options.alpn.clone(),
            config: Arc::new(config),
            ca_file: display(ca_path),
            has_client_certificate: options.cert_file.is_some(),
        })
    }

    pub(crate) fn wrap(
        self: &Arc<Self>,
        socket: mio::net::TcpStream,
        host: &str,
        port: u16,
    ) -> Result<RustlsTransport, ConnectError> {
        let server_name = ServerName::try_from(host.to_owned()).map_err(|e| {
            ConnectError::Tls(format!("'{host}' is not a valid TLS server name: {e}"))
        })?;
        let mut connection = ClientConnection::new(self.config.clone(), server_name)
            .map_err(|e| ConnectError::Tls(e.to_string()))?;
        // Bounded, so that a message counts as written only once the socket
        // has taken (nearly) all of it, not once it is encrypted in memory.
        connection.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
        Ok(RustlsTransport {
            connection,
            socket,
            host: host.to_owned(),
            port,
            settings: self.clone(),
        })
    }
}

pub(crate) struct RustlsTransport {
    connection: ClientConnection,
    socket: mio::net::TcpStream,
    host: String,
    port: u16,
    settings: Arc<CertificateTls>,
}

impl RustlsTransport {
    /// Writes buffered records until the socket is full; a full socket is
    /// not an error here.
    fn flush_what_fits(&mut self) -> io::Result<()> {
        match Transport::flush(self) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            other => other,
        }
    }

    fn explain_tls(&self, err: &rustls::Error) -> ConnectError {
        explain(err, &self.host, &self.settings)
    }

    /// Sends a pending alert before reporting an error, best effort, so the
    /// broker logs why we hung up.
    fn send_alert(&mut self) {
        while self.connection.wants_write() {
            if self.connection.write_tls(&mut self.socket).is_err() {
                break;
            }
        }
    }
}

impl Transport for RustlsTransport {
    fn handshake(&mut self) -> Result<bool, ConnectError> {
        loop {
            while self.connection.wants_write() {
                match self.connection.write_tls(&mut self.socket) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if is_reset(&e) => {
                        return Err(ConnectError::HandshakeEof { port: self.port })
                    }
                    Err(e) => return Err(ConnectError::ConnectionLost(e.to_string())),
                }
            }
            if !self.connection.is_handshaking() {
                // rustls lets a server ignore the ALPN offer; AWS IoT's
                // port 443 (and haproxy standing in for it) then completes
                // the handshake and hangs up, so the absence is the error.
                if !self.settings.alpn.is_empty() && self.connection.alpn_protocol().is_none() {
                    self.connection.send_close_notify();
                    self.send_alert();
                    return Err(ConnectError::NoAlpnProtocol {
                        offered: self.settings.alpn.join(","),
                        alert: false,
                    });
                }
                return Ok(true);
            }
            match self.connection.read_tls(&mut self.socket) {
                Ok(0) => return Err(ConnectError::HandshakeEof { port: self.port }),
                Ok(_) => {
                    if let Err(e) = self.connection.process_new_packets() {
                        self.send_alert();
                        return Err(self.explain_tls(&e));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if is_reset(&e) => {
                    return Err(ConnectError::HandshakeEof { port: self.port })
                }
                Err(e) => return Err(ConnectError::ConnectionLost(e.to_string())),
            }
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.connection.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if self.connection.read_tls(&mut self.socket)? == 0 {
                return Ok(0);
            }
            if let Err(e) = self.connection.process_new_packets() {
                self.send_alert();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.flush_what_fits()?;
        let n = self.connection.writer().write(buf)?;
        self.flush_what_fits()?;
        if n == 0 && !buf.is_empty() {
            // rustls' buffer is full and so is the socket: wait for writable.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        while self.connection.wants_write() {
            self.connection.write_tls(&mut self.socket)?;
        }
        Ok(())
    }

    fn wants_write(&self) -> bool {
        self.connection.wants_write()
    }

    fn socket_mut(&mut self) -> &mut mio::net::TcpStream {
        &mut self.socket
    }

    fn explain(&self, err: &io::Error) -> ConnectError {
        match err
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            Some(tls) => self.explain_tls(tls),
            None => ConnectError::ConnectionLost(err.to_string()),
        }
    }
}

/// Maps a rustls error to the cause a user can act on.
fn explain(err: &rustls::Error, host: &str, settings: &CertificateTls) -> ConnectError {
    use rustls::Error as E;
    match err {
        E::InvalidCertificate(cert) => match cert {
            CertificateError::NotValidForNameContext { presented, .. } => {
                ConnectError::CertificateNameMismatch {
                    expected: host.to_owned(),
                    presented: presented.iter().map(|name| plain_name(name)).collect(),
                }
            }
            CertificateError::NotValidForName => ConnectError::CertificateNameMismatch {
                expected: host.to_owned(),
                presented: Vec::new(),
            },
            CertificateError::UnknownIssuer => ConnectError::UnknownCa {
                ca_file: settings.ca_file.clone(),
            },
            CertificateError::Expired => ConnectError::CertificateExpired { not_after: None },
            CertificateError::ExpiredContext { not_after, .. } => {
                ConnectError::CertificateExpired {
                    not_after: Some(utc_time(*not_after)),
                }
            }
            CertificateError::NotValidYet => {
                ConnectError::CertificateNotYetValid { not_before: None }
            }
            CertificateError::NotValidYetContext { not_before, .. } => {
                ConnectError::CertificateNotYetValid {
                    not_before: Some(utc_time(*not_before)),
                }
            }
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                ConnectError::CertificateInvalid(
                    "it is not a TLS server certificate (its extended key usage lacks serverAuth)"
                        .to_owned(),
                )
            }
            CertificateError::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => {
                ConnectError::CertificateInvalid(
                    "the broker presents a CA certificate as its own (a self-signed certificate?); give the broker a certificate signed by the CA in CAFILE".to_owned(),
                )
            }
            CertificateError::BadSignature => ConnectError::CertificateInvalid(
                "its signature does not verify with the CA in CAFILE".to_owned(),
            ),
            CertificateError::BadEncoding => ConnectError::CertificateInvalid(
                "it is not a well-formed certificate".to_owned(),
            ),
            other => ConnectError::CertificateInvalid(format!("{other:?}")),
        },
        E::AlertReceived(AlertDescription::NoApplicationProtocol) if !settings.alpn.is_empty() => {
            ConnectError::NoAlpnProtocol {
                offered: settings.alpn.join(","),
                alert: true,
            }
        }
        E::AlertReceived(AlertDescription::CertificateRequired) => {
            ConnectError::ClientCertificateRequired
        }
        E::AlertReceived(AlertDescription::HandshakeFailure)
            if !settings.has_client_certificate =>
        {
            ConnectError::Tls(
                "the broker ended the handshake (handshake_failure): it may require a client certificate (set CERTFILE and KEYFILE), or accept no TLS version or cipher we offer".to_owned(),
            )
        }
        E::AlertReceived(
            alert @ (AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateExpired
            | AlertDescription::DecryptError),
        ) if settings.has_client_certificate => ConnectError::ClientCertificateRejected {
            alert: format!("{alert:?}"),
        },
        other => ConnectError::Tls(other.to_string()),
    }
}

/// webpki names the certificate's names by kind (`DnsName("localhost")`,
/// `IpAddress(192.0.2.1)`); users want the names.
fn plain_name(name: &str) -> String {
    let inner = name
        .strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .or_else(|| {
            name.strip_prefix("IpAddress(")
                .and_then(|n| n.strip_suffix(')'))
        });
    inner.unwrap_or(name).to_owned()
}

fn utc_time(time: UnixTime) -> String {
    let millis = i64::try_from(time.as_secs()).unwrap_or(i64::MAX / 1000) * 1000;
    format!("{} UTC", crate::tagjson::format_time(millis, 0))
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

fn load_certificates(
    option: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, ConnectError> {
    let file_error = |reason: String| ConnectError::File {
        option,
        path: display(path),
        reason,
    };
    let bytes = crate::files::read_limited(option, path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(pem_reason(e)))?;
    if certs.is_empty() {
        return Err(file_error(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".to_owned(),
        ));
    }
    Ok(certs)
}

fn pem_reason(err: rustls::pki_types::pem::Error) -> String {
    match err {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        other => format!("not valid PEM: {other:?}"),
    }
}

/// Loads KEYFILE: PKCS#1, PKCS#8 or SEC1 PEM, or encrypted PKCS#8 with
/// KEYPASSWORD. Legacy OpenSSL-encrypted PEM ("Proc-Type: 4,ENCRYPTED") is
/// refused with the command that converts it.
fn load_private_key(
    path: &Path,
    password: Option<&Secret>,
) -> Result<PrivateKeyDer<'static>, ConnectError> {
    let pem = Secret::new(crate::files::read_limited("KEYFILE", path)?);
    let unusable = |reason: &str| ConnectError::KeyUnusable {
        path: display(path),
        reason: reason.to_owned(),
    };
    let text = pem.expose();
    if contains(text, b"-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        let password = password.ok_or_else(|| ConnectError::KeyEncrypted {
            path: display(path),
        })?;
        let (_label, der) = pkcs8::der::pem::decode_vec(text)
            .map_err(|e| unusable(&format!("not valid PEM: {e}")))?;
        let der = Secret::new(der);
        let encrypted = pkcs8::EncryptedPrivateKeyInfo::try_from(der.expose())
            .map_err(|e| unusable(&format!("not an encrypted PKCS#8 key: {e}")))?;
        let decrypted = encrypted.decrypt(password.expose()).map_err(|e| match e {
            // pkcs5 0.7 reports a failed decryption as EncryptFailed.
            pkcs8::Error::EncryptedPrivateKey(
                pkcs8::pkcs5::Error::DecryptFailed | pkcs8::pkcs5::Error::EncryptFailed,
            )
            | pkcs8::Error::Asn1(_)
            | pkcs8::Error::KeyMalformed => ConnectError::WrongKeyPassword {
                path: display(path),
            },
            other => unusable(&format!("cannot decrypt it: {other}")),
        })?;
        // A wrong password can still pass the padding check by chance; the
        // result is then not a key, which is the same mistake.
        pkcs8::PrivateKeyInfo::try_from(decrypted.as_bytes()).map_err(|_| {
            ConnectError::WrongKeyPassword {
                path: display(path),
            }
        })?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            decrypted.as_bytes().to_vec(),
        )));
    }
    if contains(text, b"Proc-Type: 4,ENCRYPTED") {
        return Err(unusable(
            "uses legacy OpenSSL PEM encryption, which is not supported; convert it with: openssl pkcs8 -topk8 -v2 aes-256-cbc -in old.key -out new.key",
        ));
    }
    PrivateKeyDer::from_pem_slice(text).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => unusable(
            "no private key in it (expected -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY, EC PRIVATE KEY or ENCRYPTED PRIVATE KEY)",
        ),
        other => unusable(&format!("not valid PEM: {other:?}")),
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// TLSVERIFYHOSTNAME 0: the chain is still verified against CAFILE, only the
/// name check is skipped (documented as insecure: any certificate from that
/// CA is accepted for any host).
#[derive(Debug)]
struct IgnoreHostname(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for IgnoreHostname {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
