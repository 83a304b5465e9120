//! Pure ACP version rules.
