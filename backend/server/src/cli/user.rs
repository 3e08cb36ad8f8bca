//! `valuelab user add --role admin --username U`: creates an account of the web app directly in
//! the database (the first admin; everyone else is invited from the app). The password comes
//! from standard input when it is not a terminal (scripts: `echo "$PW" | valuelab user add ...`),
//! else from a prompt that does not echo, asked twice.

use crate::auth::accounts::{insert_user, validate_username};
use crate::auth::password;
use crate::db;
use crate::error::ApiError;
use anyhow::Context;
use std::io::{BufRead, IsTerminal};
use valuelab_common::api::auth::Role;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create an account (password from stdin or a prompt).
    Add(AddArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// admin, member or annotator.
    #[arg(long, value_parser = |s: &str| Role::parse(s))]
    pub role: Role,
    #[arg(long)]
    pub username: String,
    /// Database: sqlite://PATH or postgres://USER:PASSWORD@HOST/DATABASE (default: the
    /// server's, or VALUELAB_DATABASE_URL).
    #[arg(long, env = db::ENV_DATABASE_URL)]
    pub database_url: Option<String>,
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Add(args) => add(args),
    }
}

fn add(args: AddArgs) -> anyhow::Result<()> {
    let username = args.username.trim().to_string();
    validate_username(&username).map_err(anyhow::Error::msg)?;
    let secret = read_password()?;
    password::validate(&secret).map_err(anyhow::Error::msg)?;
    let hash = password::hash(&secret)?;
    let (mut conn, url) = super::open_database(args.database_url)?;
    insert_user(&mut conn, &username, Some(&hash), args.role.as_str(), None).map_err(|e| {
        if is_unique_violation(&e) {
            anyhow::anyhow!("username '{username}' is taken in {url}; choose another")
        } else {
            anyhow::anyhow!("creating the account in {url}: {e:?}")
        }
    })?;
    println!("created {} '{username}' in {url}", args.role);
    Ok(())
}

/// The username's UNIQUE constraint refused the row (each backend words this differently).
fn is_unique_violation(error: &ApiError) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(
        error,
        ApiError::Internal(cause) if matches!(
            cause.downcast_ref::<Error>(),
            Some(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
        )
    )
}

fn read_password() -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password("password: ").context("reading the password")?;
    let again = rpassword::prompt_password("again: ").context("reading the password")?;
    anyhow::ensure!(
        first == again,
        "the two passwords differ; nothing was created"
    );
    Ok(first)
}
