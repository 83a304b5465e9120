//! API types for config.alauda.io/v1.
