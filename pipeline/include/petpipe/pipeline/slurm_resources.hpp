#pragma once
// The resources of the Slurm jobs of petpipe slurm (the "slurm" parameter table's Options).
#include <string>

namespace petpipe::pipeline {

// Resources of every job (array tasks and the group job). Values are passed to sbatch as given.
struct SlurmResources {
  std::string partition;           // --partition; empty = the cluster's default partition
  std::string account;             // --account; empty = the user's default account
  std::string time = "04:00:00";   // --time per task: minutes, [D-]HH:MM[:SS], MM:SS
  std::string mem = "8G";          // --mem per task: integer with optional K/M/G/T suffix (MB when none)
  int cpus_per_task = 4;           // --cpus-per-task; also passed to `petpipe run --threads`
  int max_parallel = 20;           // %K: at most K array tasks run at once
};

}  // namespace petpipe::pipeline
