//! PostgreSQL over TLS: libpq's `sslmode` and `sslrootcert` URL parameters,
//! and the rustls client they call for.
//!
//! tokio-postgres knows only `sslmode=disable|prefer|require` and no
//! `sslrootcert`, so both are taken out of the URL before it parses the rest;
//! the certificate checks libpq makes are done by our own rustls verifier.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode` values (`allow` is not offered: tokio-postgres cannot
/// start in plain text and upgrade).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "invalid sslmode \"{other}\" (expected disable, prefer, require, verify-ca or verify-full)"
                ))
            }
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// The operating system's store (`sslrootcert=system`, or no sslrootcert
    /// with a verify-* mode).
    System,
    /// A PEM file (`sslrootcert=PATH`).
    File(PathBuf),
}

impl fmt::Display for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Roots::System => f.write_str("the system's root certificates"),
            Roots::File(p) => write!(f, "sslrootcert {}", p.display()),
        }
    }
}

/// How far the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Encrypted, but any certificate is accepted (libpq's require).
    Nothing,
    /// The chain must end at a trusted root (verify-ca).
    Chain,
    /// The chain, and the certificate must name the host (verify-full).
    ChainAndName,
}

/// What a URL asks of TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub mode: SslMode,
    /// `None`: no sslrootcert given.
    pub root: Option<Roots>,
}

impl Tls {
    /// libpq's rules: the default mode is prefer (verify-full with
    /// `sslrootcert=system`, where anything weaker is refused); a root file
    /// makes prefer and require check the chain as verify-ca does.
    fn resolve(mode: Option<&str>, root: Option<&str>) -> Result<Tls, String> {
        let root = root.filter(|r| !r.is_empty()).map(|r| match r {
            "system" => Roots::System,
            path => Roots::File(PathBuf::from(path)),
        });
        let mode = match mode {
            Some(m) => SslMode::parse(m)?,
            None if root == Some(Roots::System) => SslMode::VerifyFull,
            None => SslMode::Prefer,
        };
        if root == Some(Roots::System) && mode != SslMode::VerifyFull {
            return Err(format!(
                "sslmode \"{}\" is too weak for sslrootcert=system (use verify-full)",
                mode.as_str()
            ));
        }
        Ok(Tls { mode, root })
    }

    pub fn check(&self) -> Check {
        match self.mode {
            SslMode::Disable => Check::Nothing,
            SslMode::Prefer | SslMode::Require if self.root.is_none() => Check::Nothing,
            SslMode::Prefer | SslMode::Require | SslMode::VerifyCa => Check::Chain,
            SslMode::VerifyFull => Check::ChainAndName,
        }
    }

    /// The roots certificates are checked against (the system's unless a file is given).
    fn roots(&self) -> Roots {
        self.root.clone().unwrap_or(Roots::System)
    }

    /// What tokio-postgres must do: it knows whether to ask for TLS, the
    /// verifier knows how much to check.
    pub fn pg_mode(&self) -> PgSslMode {
        match self.mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
        }
    }

    /// The rustls connector; reads the root certificates now, so a missing
    /// or unreadable file fails at start-up.
    pub fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let check = self.check();
        let roots = match check {
            Check::Nothing => None,
            Check::Chain | Check::ChainAndName => Some(Arc::new(load_roots(&self.roots())?)),
        };
        let verifier = Arc::new(Verifier {
            algorithms: provider.signature_verification_algorithms,
            roots,
            check_name: check == Check::ChainAndName,
        });
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        // PostgreSQL 17 insists on it for sslnegotiation=direct; older servers ignore it.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(MakeRustlsConnect::new(config))
    }

    /// A hint for a connection error caused by the server's certificate.
    pub fn explain(&self, error: &(dyn std::error::Error + 'static)) -> Option<String> {
        let cause = rustls_cause(error)?;
        let rustls::Error::InvalidCertificate(cert) = cause else {
            return None;
        };
        let mode = self.mode.as_str();
        Some(match cert {
            CertificateError::UnknownIssuer => format!(
                "sslmode={mode}: the server's certificate does not chain to {}",
                self.roots()
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("sslmode={mode}: the server's certificate does not name this host")
            }
            _ => format!("sslmode={mode}: the server's certificate was refused"),
        })
    }
}

/// The rustls error somewhere in a tokio-postgres error's chain (it is
/// wrapped in an io::Error).
fn rustls_cause<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(r) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(r);
        }
        next = e.source();
    }
    None
}

/// Takes `sslmode` and `sslrootcert` out of a `postgres://` URL; returns the
/// URL for tokio-postgres and what they asked for.
pub fn split_url(url: &str) -> Result<(String, Tls), String> {
    // tokio-postgres reads credentials up to the first '@', so a '?' before
    // it belongs to the password.
    let after_creds = url.find('@').map_or(0, |at| at + 1);
    let Some(q) = url[after_creds..].find('?').map(|i| after_creds + i) else {
        return Ok((url.to_string(), Tls::resolve(None, None)?));
    };
    let (base, query) = (&url[..q], &url[q + 1..]);
    let (mut mode, mut root) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match decode(key).as_deref() {
            Ok("sslmode") => mode = Some(decode(value)?),
            Ok("sslrootcert") => root = Some(decode(value)?),
            _ => kept.push(pair),
        }
    }
    let tls = Tls::resolve(mode.as_deref(), root.as_deref())?;
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, tls))
}

fn decode(s: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "invalid PostgreSQL URL: a parameter is not valid UTF-8".to_string())
}

fn load_roots(roots: &Roots) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| {
                    format!("sslrootcert {} is not a PEM file: {e}", path.display())
                })?;
                store.add(cert).map_err(|e| {
                    format!(
                        "sslrootcert {} holds an unusable certificate: {e}",
                        path.display()
                    )
                })?;
            }
            if store.is_empty() {
                return Err(format!(
                    "sslrootcert {} holds no certificate",
                    path.display()
                ));
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(
                    "no system root certificates found (give sslrootcert=PATH to a PEM file)"
                        .to_string(),
                );
            }
        }
    }
    Ok(store)
}

/// libpq's checks: with no roots the certificate is accepted unseen (the
/// handshake signatures are still checked, so the channel is bound to the
/// key the server presented); with roots the chain must end at one; the
/// host name is checked only for verify-full.
#[derive(Debug)]
struct Verifier {
    algorithms: WebPkiSupportedAlgorithms,
    roots: Option<Arc<RootCertStore>>,
    check_name: bool,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )?;
            if self.check_name {
                verify_server_name(&cert, server_name)?;
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> (String, SslMode, Option<Roots>) {
        let (url, tls) = split_url(url).expect("valid");
        (url, tls.mode, tls.root)
    }

    #[test]
    fn default_is_prefer_and_the_url_is_untouched() {
        assert_eq!(
            split("postgres://u:p@h:5432/db"),
            ("postgres://u:p@h:5432/db".into(), SslMode::Prefer, None)
        );
        assert_eq!(
            split("postgres://u@h/db?application_name=x&options=-c%20a%3Db"),
            (
                "postgres://u@h/db?application_name=x&options=-c%20a%3Db".into(),
                SslMode::Prefer,
                None
            )
        );
    }

    #[test]
    fn takes_out_only_the_tls_parameters() {
        assert_eq!(
            split("postgres://u@h/db?sslmode=verify-ca&application_name=x&sslrootcert=%2Ftmp%2Fca.pem"),
            (
                "postgres://u@h/db?application_name=x".into(),
                SslMode::VerifyCa,
                Some(Roots::File("/tmp/ca.pem".into()))
            )
        );
        assert_eq!(
            split("postgresql://h/db?sslmode=require"),
            ("postgresql://h/db".into(), SslMode::Require, None)
        );
    }

    #[test]
    fn a_question_mark_in_the_password_is_not_the_query() {
        assert_eq!(
            split("postgres://u:a?b@h/db?sslmode=disable"),
            ("postgres://u:a?b@h/db".into(), SslMode::Disable, None)
        );
    }

    #[test]
    fn every_libpq_mode_parses_and_others_are_refused() {
        for (s, m) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            assert_eq!(split(&format!("postgres://h/db?sslmode={s}")).1, m);
        }
        let e = split_url("postgres://h/db?sslmode=allow").unwrap_err();
        assert!(e.starts_with("invalid sslmode \"allow\""), "{e}");
        assert!(split_url("postgres://h/db?sslmode=").is_err());
    }

    #[test]
    fn sslrootcert_system_means_verify_full_and_refuses_weaker_modes() {
        assert_eq!(
            split("postgres://h/db?sslrootcert=system"),
            (
                "postgres://h/db".into(),
                SslMode::VerifyFull,
                Some(Roots::System)
            )
        );
        let e = split_url("postgres://h/db?sslrootcert=system&sslmode=require").unwrap_err();
        assert_eq!(
            e,
            "sslmode \"require\" is too weak for sslrootcert=system (use verify-full)"
        );
    }

    #[test]
    fn checks_follow_libpq() {
        let tls = |mode, root: Option<&str>| Tls {
            mode,
            root: root.map(|r| Roots::File(r.into())),
        };
        assert_eq!(
            tls(SslMode::Disable, Some("ca.pem")).check(),
            Check::Nothing
        );
        assert_eq!(tls(SslMode::Prefer, None).check(), Check::Nothing);
        assert_eq!(tls(SslMode::Require, None).check(), Check::Nothing);
        // A root file makes require (and prefer) verify the chain.
        assert_eq!(tls(SslMode::Require, Some("ca.pem")).check(), Check::Chain);
        assert_eq!(tls(SslMode::Prefer, Some("ca.pem")).check(), Check::Chain);
        assert_eq!(tls(SslMode::VerifyCa, None).check(), Check::Chain);
        assert_eq!(tls(SslMode::VerifyFull, None).check(), Check::ChainAndName);
        assert_eq!(tls(SslMode::VerifyCa, None).roots(), Roots::System);
    }

    #[test]
    fn tokio_postgres_gets_the_mode_it_knows() {
        let tls = |mode| Tls { mode, root: None }.pg_mode();
        assert_eq!(tls(SslMode::Disable), PgSslMode::Disable);
        assert_eq!(tls(SslMode::Prefer), PgSslMode::Prefer);
        assert_eq!(tls(SslMode::Require), PgSslMode::Require);
        assert_eq!(tls(SslMode::VerifyCa), PgSslMode::Require);
        assert_eq!(tls(SslMode::VerifyFull), PgSslMode::Require);
    }

    #[test]
    fn a_missing_root_file_fails_when_the_connector_is_built() {
        let tls = Tls {
            mode: SslMode::VerifyCa,
            root: Some(Roots::File("/nonexistent/ca.pem".into())),
        };
        let e = tls.connector().err().expect("refused");
        assert!(
            e.starts_with("cannot read sslrootcert /nonexistent/ca.pem: "),
            "{e}"
        );
    }
}
