#pragma once
// Slurm submission for `petpipe slurm`: the sbatch scripts (one array task per subject, a group job that
// depends on the array), running sbatch/scontrol, parsing their answers, and reading the runner's
// per-scan status files to decide which subjects still need a run.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "petpipe/pipeline/slurm_resources.hpp"

namespace petpipe::pipeline {

namespace fs = std::filesystem;


// Everything a script needs; all paths absolute.
struct SlurmJobSpec {
  fs::path petpipe;        // the executable the jobs run
  fs::path bids;           // --bids
  fs::path out;            // --out (derivatives)
  fs::path config;         // --config
  fs::path subjects_file;  // one subject label (without "sub-") per line; array index i -> line i+1
  fs::path log_dir;        // OUT/slurm/logs
  std::size_t n_subjects = 0;
  SlurmResources resources;
  bool allow_missing = false;              // group: --allow-missing, and dependency afterany
  std::optional<fs::path> participants;    // group: --participants TSV
};

// Throws petpipe::Error with a one-line message when a value cannot be given to sbatch.
void validate(const SlurmResources& r);

// Quotes a string for a POSIX shell ('...' with embedded quotes escaped).
std::string shell_quote(const std::string& s);

// The sbatch array script: --array=0-(n-1)%K, resources, and a body that maps the task index to a
// subject and runs `petpipe run ... --participant-label <ID>` with its output in
// log_dir/sub-<ID>_<arrayjob>_<task>.log.
std::string array_script(const SlurmJobSpec& spec);

// The group job script. With an array job id the script carries --dependency=afterok:<id> (afterany
// when allow_missing) and --kill-on-invalid-dep=yes; without one it has no dependency.
std::string group_script(const SlurmJobSpec& spec, const std::string& array_job_id);

// --- processes -------------------------------------------------------------------------------------
struct ProcessResult {
  int exit_code = -1;  // 128+signal when killed by a signal
  std::string out;
  std::string err;
};
// Runs argv[0] (a path or a name looked up on PATH) with the given arguments, no shell; captures stdout
// and stderr. Throws petpipe::Error when the program cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv);
// First executable file `name` in the directories of $PATH.
std::optional<fs::path> find_on_path(const std::string& name);

// `sbatch --parsable` prints "<id>" or "<id>;<cluster>": returns the id, throws when there is none.
std::string parse_job_id(const std::string& sbatch_stdout);

// --- Slurm's view of jobs --------------------------------------------------------------------------
// One record of `scontrol -o show job` or of a jobcomp/filetxt line: KEY=VALUE fields.
using SlurmRecord = std::map<std::string, std::string>;
std::vector<SlurmRecord> parse_slurm_records(const std::string& text);
// "0-3%2", "1,4,6-8", "5" -> the indices (the %K throttle is ignored).
std::vector<int> parse_index_list(const std::string& s);
// Array task index -> job state (PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, ...) from records of
// one array job (scontrol or jobcomp; later records win).
std::map<int, std::string> array_task_states(const std::vector<SlurmRecord>& records,
                                             const std::string& array_job_id);
bool is_active_state(const std::string& job_state);  // pending, running, completing, ...

// --- the runner's status files ---------------------------------------------------------------------
// OUT/sub-XX/**/*_status.json written by `petpipe run`.
struct StatusFile {
  std::string subject;  // without "sub-"
  std::string session;
  std::string tracer;
  std::string status;  // "complete", "failed", or what the file says
  std::string error;
  std::string failed_stage;
  double duration_s = 0.0;
  fs::path file;
};
// Every readable status file under out (unreadable ones are reported as status "unreadable").
std::vector<StatusFile> read_status_files(const fs::path& out);

}  // namespace petpipe::pipeline
