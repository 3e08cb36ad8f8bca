//! Accounts: the rules for a username and the one place a user row is made, shared by the
//! invite and join routes and `valuelab user add`.

use crate::db::models::{NewUser, User};
use crate::db::schema::users;
use crate::db::{now_s, Db};
use crate::error::ApiResult;
use diesel::prelude::*;

/// Longest username accepted (a Prolific id is 24 characters).
pub const MAX_USERNAME_CHARS: usize = 64;

/// Letters, digits and `. _ - @`, 1..64 characters: safe in URLs, CSV files and logs.
pub fn validate_username(name: &str) -> Result<(), String> {
    let n = name.chars().count();
    if n == 0 || n > MAX_USERNAME_CHARS {
        return Err(format!("username: use 1..{MAX_USERNAME_CHARS} characters"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
    {
        return Err(format!(
            "username '{name}': '{bad}' is not allowed (letters, digits and . _ - @ only)"
        ));
    }
    Ok(())
}

/// Stores a new account and reads it back (the two backends share no `RETURNING`).
pub fn insert_user(
    conn: &mut Db,
    username: &str,
    password_hash: Option<&str>,
    role: &str,
    study_id: Option<i32>,
) -> ApiResult<User> {
    diesel::insert_into(users::table)
        .values(NewUser {
            username,
            password_hash,
            role,
            study_id,
            created_at: now_s(),
        })
        .execute(conn)?;
    Ok(users::table
        .filter(users::username.eq(username))
        .select(User::as_select())
        .first(conn)?)
}
