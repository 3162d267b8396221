//! Test support for the mail tests: a real SMTP server on loopback
//! (`tests/support/smtp_server.py`, built on aiosmtpd: plain, STARTTLS or TLS from the first
//! byte, optionally slow) and a private certificate authority made with the `openssl` CLI.
//!
//! Without python3's aiosmtpd or openssl, a test prints a loud SKIPPED line and returns;
//! under `CI=true` it fails instead.
#![allow(dead_code)]

use std::io::BufRead;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    /// STARTTLS, required before MAIL.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
}

fn skip(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is missing under CI=true");
    }
    eprintln!("\n*** SKIPPED mail test: {what} is missing ***\n");
}

/// True when python3 with aiosmtpd is there (else a loud skip, or a failure under CI).
pub fn have_aiosmtpd() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip("python3 -m aiosmtpd (pip install aiosmtpd)");
    }
    ok
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Starts a server on a free port.
    pub fn start(
        maildir: &Path,
        mode: Mode,
        pki: Option<&Pki>,
        delay_seconds: f64,
    ) -> Option<Server> {
        Server::start_on(free_port(), maildir, mode, pki, delay_seconds)
    }

    /// Starts a server on `port` and waits until it listens.
    pub fn start_on(
        port: u16,
        maildir: &Path,
        mode: Mode,
        pki: Option<&Pki>,
        delay_seconds: f64,
    ) -> Option<Server> {
        if !have_aiosmtpd() {
            return None;
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--maildir")
            .arg(maildir)
            .arg("--delay")
            .arg(delay_seconds.to_string())
            .arg("--mode")
            .arg(match mode {
                Mode::Plain => "plain",
                Mode::Starttls => "starttls",
                Mode::Tls => "tls",
            })
            .stdout(Stdio::piped());
        if mode != Mode::Plain {
            let pki = pki.expect("a TLS server needs a certificate");
            cmd.arg("--cert").arg(&pki.server_cert);
            cmd.arg("--key").arg(&pki.server_key);
        }
        let mut child = cmd.spawn().expect("start tests/support/smtp_server.py");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        assert_eq!(line.trim(), "ready", "the test SMTP server did not start");
        Some(Server {
            child,
            port,
            maildir: maildir.to_path_buf(),
        })
    }

    /// Every message the server accepted, as received.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(rd) = std::fs::read_dir(self.maildir.join(sub)) {
                for e in rd.flatten() {
                    v.push(std::fs::read(e.path()).unwrap());
                }
            }
        }
        v
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private CA with a server certificate for `localhost` and 127.0.0.1, and a second CA that
/// signed nothing the server has.
pub struct Pki {
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=chieftech test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// Makes the CAs and the server's certificate in `dir` with the openssl CLI.
pub fn make_pki(dir: &Path) -> Option<Pki> {
    if Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        skip("the openssl CLI");
        return None;
    }
    std::fs::create_dir_all(dir).unwrap();
    make_ca(dir, "ca");
    make_ca(dir, "other-ca");
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
    Some(Pki {
        ca: dir.join("ca.pem"),
        other_ca: dir.join("other-ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
    })
}
