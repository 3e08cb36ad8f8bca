//! Passwords: argon2id hashes in the PHC string format (salt and parameters inside), checked in
//! constant time by the argon2 crate. Rules on what a password must be live here too.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Shorter passwords are refused (NIST SP 800-63B's minimum for chosen passwords).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longer ones too: hashing megabytes of "password" is a denial of service.
pub const MAX_PASSWORD_CHARS: usize = 256;

pub fn validate(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(format!(
            "password too short ({n} characters; use at least {MIN_PASSWORD_CHARS})"
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(format!(
            "password too long ({n} characters; at most {MAX_PASSWORD_CHARS})"
        ));
    }
    Ok(())
}

/// argon2id with the crate's defaults (OWASP's m=19 MiB, t=2, p=1) and a fresh random salt.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// Whether `password` matches a stored hash; a malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the time of one verification, so a login for an unknown name takes as long as one
/// with a wrong password and does not tell which names exist.
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(dummy) = DUMMY.get_or_init(|| hash("not anyone's password").ok()) {
        let _ = verify(password, dummy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse battery!", &stored));
        assert!(!verify("anything", "not a hash"));
        // a fresh salt each time: equal passwords, different hashes
        assert_ne!(stored, hash("correct horse battery").unwrap());
    }

    #[test]
    fn passwords_outside_the_length_rules_are_refused_with_the_rule() {
        assert!(validate("seven77").unwrap_err().contains("at least 8"));
        assert!(validate(&"x".repeat(300))
            .unwrap_err()
            .contains("at most 256"));
        assert!(validate("eight888").is_ok());
    }
}
