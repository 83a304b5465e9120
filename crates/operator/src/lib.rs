//! The cluster version operator.
