//! Sessions: a random token in an HttpOnly, SameSite=Strict cookie; the database keeps only its
//! SHA-256, so a leaked database opens no session. One-time invite tokens are made the same way.

use crate::db::models::Session;
use crate::db::schema::sessions;
use crate::db::{now_s, Db};
use actix_web::cookie::{time::Duration, Cookie, SameSite};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const SESSION_COOKIE: &str = "valuelab_session";
/// Sessions last two weeks; a study spread over days keeps its annotators logged in.
pub const SESSION_DAYS: i64 = 14;
/// 256 bits: not guessable, whatever the number of sessions.
const TOKEN_BYTES: usize = 32;

/// A fresh random token (hex), from the operating system's generator via `ThreadRng`.
pub fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Stores a new session for `user_id` and returns its cookie.
pub fn start(conn: &mut Db, user_id: i32, secure: bool) -> QueryResult<Cookie<'static>> {
    let token = new_token();
    let now = now_s();
    diesel::insert_into(sessions::table)
        .values(Session {
            token_hash: token_hash(&token),
            user_id,
            created_at: now,
            expires_at: now + SESSION_DAYS * 24 * 3600,
        })
        .execute(conn)?;
    Ok(cookie(token, secure))
}

/// The session cookie: invisible to scripts (HttpOnly) and never sent by another site's page
/// (SameSite=Strict), which with the Origin check in `routes` keeps the API CSRF-safe.
pub fn cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(Duration::days(SESSION_DAYS))
        .finish()
}

/// A cookie that tells the browser to forget the session.
pub fn removal_cookie() -> Cookie<'static> {
    let mut cookie = cookie(String::new(), false);
    cookie.make_removal();
    cookie
}

/// Ends the session with this token (logout); unknown tokens are ignored.
pub fn end(conn: &mut Db, token: &str) -> QueryResult<()> {
    diesel::delete(sessions::table.filter(sessions::token_hash.eq(token_hash(token))))
        .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_stored_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 2 * TOKEN_BYTES);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn the_cookie_is_http_only_and_same_site_strict() {
        let text = cookie("t".into(), false).to_string();
        assert!(text.contains("HttpOnly"), "{text}");
        assert!(text.contains("SameSite=Strict"), "{text}");
        assert!(!text.contains("Secure"), "{text}");
        assert!(cookie("t".into(), true).to_string().contains("Secure"));
    }
}
