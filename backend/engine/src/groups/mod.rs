//! Target groups from survey microdata. Respondents' PVQ-21 answers are scored into the ten
//! values (`valuelab_common::pvq21`), clustered with k-means++ (`cluster`, on linfa), and each group
//! is the mean of its members; a `cntry` column adds one group per country. `gold` gives each
//! group's mean answer per survey question, the ground truth of opinion prediction, and `elbow`
//! helps choose k. `survey` joins these to the ESS tables of `data::ess`.

pub mod cluster;
pub mod elbow;
pub mod gold;
pub mod select;
pub mod survey;

pub use cluster::{cluster, cluster_with, nearest, Clustering, KMeansSettings, Point};
pub use gold::{gold_means, read_gold, write_gold, GoldRow, GroupMean};
pub use select::GroupSelection;
pub use survey::{
    build_gold, build_groups, score_respondents, BuiltGroups, Gold, ScoredRespondents,
    CLUSTER_PREFIX,
};
