//! The stages an upgrade runs through, in order. Stage names and priorities are written to
//! `status.stages[]`; a stage with a lower priority finishes before the next one starts.

/// A stage the operator plans for every upgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StandardStage {
    /// CRDs and namespaces of the release.
    Prepare,
    /// One operation per Kubernetes minor hop, by the cluster's Kubernetes driver.
    Kubernetes,
    /// Core modules, ordered by their `dependsOn`.
    Core,
    /// Aligned modules.
    Aligned,
    /// Everything at the target and healthy.
    Verify,
}

impl StandardStage {
    /// Every stage by ascending priority.
    pub const ALL: [Self; 5] = [
        Self::Prepare,
        Self::Kubernetes,
        Self::Core,
        Self::Aligned,
        Self::Verify,
    ];

    /// Name as written in `status.stages[].name`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Prepare => "Prepare",
            Self::Kubernetes => "Kubernetes",
            Self::Core => "Core",
            Self::Aligned => "Aligned",
            Self::Verify => "Verify",
        }
    }

    /// Priority as written in `status.stages[].priority`; gaps leave room for stages a release adds.
    pub fn priority(self) -> i32 {
        match self {
            Self::Prepare => 10,
            Self::Kubernetes => 20,
            Self::Core => 30,
            Self::Aligned => 40,
            Self::Verify => 50,
        }
    }

    /// The stage with this name, if it is a standard one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl std::fmt::Display for StandardStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_run_in_the_documented_order() {
        let mut by_priority = StandardStage::ALL;
        by_priority.sort_by_key(|s| s.priority());
        let names: Vec<_> = by_priority.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["Prepare", "Kubernetes", "Core", "Aligned", "Verify"]);
    }

    #[test]
    fn names_round_trip() {
        for stage in StandardStage::ALL {
            assert_eq!(StandardStage::from_name(stage.name()), Some(stage));
        }
        assert_eq!(StandardStage::from_name("Agnostic"), None);
    }
}
