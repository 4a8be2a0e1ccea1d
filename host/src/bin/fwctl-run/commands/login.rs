//! `fwctl-run login REGISTRY` / `logout REGISTRY`: registry credentials in the auth file
//! Docker and Podman use, so that `pull`, `push` and `plugin install` reach registries that
//! need them. The password is read from stdin, never from the command line (where `ps` and
//! shell history would show it).

use std::io::{BufRead as _, IsTerminal as _, Read as _};

use anyhow::{Context, Result, bail};
use clap::Args;
use fwctl_run::distribution::credentials;
use fwctl_run::report::ExitStatus;

use crate::options::AuthFileArgs;

/// `fwctl-run login`.
#[derive(Debug, Args)]
pub struct LoginCommand {
    /// The registry, `host[:port]` (as in oci://HOST[:PORT]/…).
    pub registry: String,
    /// The user name.
    #[arg(long, short)]
    pub username: String,
    /// Read the password (or token) from stdin as it comes (without it, a terminal is
    /// asked, echo off; without a terminal it is read from stdin all the same).
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub auth: AuthFileArgs,
}

/// `fwctl-run logout`.
#[derive(Debug, Args)]
pub struct LogoutCommand {
    /// The registry, `host[:port]`.
    pub registry: String,
    #[command(flatten)]
    pub auth: AuthFileArgs,
}

fn registry_name(registry: &str) -> Result<String> {
    let name = registry.trim_start_matches("oci://").trim_end_matches('/');
    if name.is_empty() || name.contains('/') || name.chars().any(char::is_whitespace) {
        bail!("{registry:?} is not a registry name (host or host:port)");
    }
    Ok(name.to_string())
}

impl LoginCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        let registry = registry_name(&self.registry)?;
        let file = self.auth.file().context("no auth file: give --authfile or set $REGISTRY_AUTH_FILE")?;
        let mut password = String::new();
        if !self.password_stdin && std::io::stdin().is_terminal() {
            eprint!("Password for {} at {registry}: ", self.username);
            password = read_without_echo()?;
        } else {
            std::io::stdin().read_to_string(&mut password).context("reading the password from stdin")?;
        }
        let password = password.trim_end_matches(['\n', '\r']);
        if password.is_empty() {
            bail!("no password on stdin");
        }
        credentials::login(&file, &registry, &self.username, password)?;
        println!("logged in to {registry} as {} (credentials in {})", self.username, file.display());
        Ok(ExitStatus::Done)
    }
}

/// A line from the terminal with echo off, so the password is not shown as it is typed.
fn read_without_echo() -> Result<String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).context("reading the terminal's settings")?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).context("turning echo off")?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    eprintln!();
    read.context("reading the password")?;
    Ok(line)
}

impl LogoutCommand {
    pub fn execute(self) -> Result<ExitStatus> {
        let registry = registry_name(&self.registry)?;
        let file = self.auth.file().context("no auth file: give --authfile or set $REGISTRY_AUTH_FILE")?;
        if credentials::logout(&file, &registry)? {
            println!("logged out of {registry} (removed from {})", file.display());
        } else {
            println!("not logged in to {registry} in {}", file.display());
        }
        Ok(ExitStatus::Done)
    }
}
