//! `valuelab study create --name N --run-a DIR --run-b DIR`: the same study `POST /api/studies`
//! makes, from a script (the demo study at the end of `scripts/run-main.sh`) without a running
//! server or a login. It writes to the server's database and prints the study's pages.

use crate::db;
use crate::db::models::User;
use crate::db::schema::users;
use crate::studies::create;
use anyhow::Context;
use diesel::prelude::*;
use std::path::PathBuf;
use valuelab_common::api::auth::Role;
use valuelab_common::api::studies::CreateStudyRequest;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a pairwise annotation study from two `eval args` runs.
    Create(CreateArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[arg(long)]
    pub name: String,
    /// The `eval args` run folder of method A.
    #[arg(long)]
    pub run_a: PathBuf,
    /// The run of method B, on the same groups and conclusions.
    #[arg(long)]
    pub run_b: PathBuf,
    /// Distinct annotators per item (default 3, as in the paper).
    #[arg(long)]
    pub annotators_per_item: Option<u32>,
    /// Most items one annotator judges (default: all).
    #[arg(long)]
    pub item_quota: Option<u32>,
    /// A Markdown file of guidelines, shown before the first item.
    #[arg(long)]
    pub guidelines: Option<PathBuf>,
    /// One hidden attention check after every N items (default: none).
    #[arg(long)]
    pub attention_every: Option<u32>,
    /// The admin who owns the study (default: the first admin account).
    #[arg(long)]
    pub owner: Option<String>,
    /// Database: sqlite://PATH or postgres://... (default: the server's, or VALUELAB_DATABASE_URL).
    #[arg(long, env = db::ENV_DATABASE_URL)]
    pub database_url: Option<String>,
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Create(args) => create_study(args),
    }
}

fn create_study(args: CreateArgs) -> anyhow::Result<()> {
    let guidelines = match &args.guidelines {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("--guidelines {}: cannot read it", path.display()))?,
        None => String::new(),
    };
    let request = CreateStudyRequest {
        name: args.name.clone(),
        run_a: args.run_a.display().to_string(),
        run_b: args.run_b.display().to_string(),
        annotators_per_item: args.annotators_per_item,
        item_quota: args.item_quota,
        guidelines,
        attention_every: args.attention_every,
        attention_min_pass: None,
        lease_minutes: None,
        completion_url: None,
        seed: None,
    };
    let settings = create::validate(&request).map_err(anyhow::Error::msg)?;
    let built = create::build(&request, &settings).map_err(anyhow::Error::msg)?;
    let (mut conn, url) = super::open_database(args.database_url)?;
    let owner = owner(&mut conn, args.owner.as_deref(), &url)?;
    let stored = create::store(&mut conn, &request, &settings, &built, owner.id)
        .and_then(|id| create::response(&mut conn, id, &built))
        .map_err(|e| anyhow::anyhow!("storing the study in {url}: {e}"))?;
    println!(
        "created study {} '{}' in {url}: {} pairs to judge, {} attention checks, owner {}",
        stored.id, settings.name, stored.items, stored.attention_checks, owner.username
    );
    if !stored.dropped.is_empty() {
        println!("{} pairs left out:", stored.dropped.len());
        for d in &stored.dropped {
            println!("  {}/{}: {}", d.group, d.item, d.reason);
        }
    }
    println!("  report (admins, members): /studies/{}", stored.id);
    println!("  public link (annotators): {}", stored.public_url);
    Ok(())
}

/// The named admin, or the first admin account.
fn owner(conn: &mut db::Db, name: Option<&str>, url: &str) -> anyhow::Result<User> {
    let admins = users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .order(users::id)
        .select(User::as_select());
    let found = match name {
        Some(name) => admins
            .filter(users::username.eq(name))
            .first(conn)
            .optional(),
        None => admins.first(conn).optional(),
    }
    .with_context(|| format!("reading the accounts of {url}"))?;
    found.ok_or_else(|| match name {
        Some(name) => anyhow::anyhow!("--owner {name}: no admin of that name in {url}"),
        None => anyhow::anyhow!(
            "{url} has no admin to own the study; create one with `valuelab user add --role admin --username NAME`"
        ),
    })
}
