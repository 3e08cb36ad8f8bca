//! Accounts and sessions: `POST /api/auth/login`, `GET /api/auth/me`, invites.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a person may do. Admins run everything; members read studies and results; annotators
/// judge the items of the one study they joined, and see nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
    Annotator,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Member, Role::Annotator];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Annotator => "annotator",
        }
    }

    pub fn parse(text: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text.trim())
            .ok_or_else(|| {
                format!("unknown role '{text}' (expected one of: admin, member, annotator)")
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST /api/auth/login` and `POST /api/invites/{token}/accept`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// `GET /api/auth/me`, and the body of a successful login, invite acceptance or join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: i32,
    pub username: String,
    pub role: Role,
    /// The study an annotator belongs to; `None` for admins and members.
    pub study_id: Option<i32>,
}

/// `POST /api/studies/{id}/invites` (admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRequest {
    pub role: Role,
    pub count: u32,
}

/// One one-time invite link; the token is shown once and stored only as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteResponse {
    /// Path of the web app's page that accepts the invite (`/invite/{token}`).
    pub url: String,
    pub token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_their_own_names_and_refuse_others_naming_the_choices() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{role}\""));
        }
        let err = Role::parse("root").unwrap_err();
        assert!(
            err.contains("'root'") && err.contains("admin, member, annotator"),
            "{err}"
        );
    }
}
