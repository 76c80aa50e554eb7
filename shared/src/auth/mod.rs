//! Authentication: password hashing, access and refresh tokens.
