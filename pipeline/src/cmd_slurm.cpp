// petpipe slurm: submit a cohort to Slurm (one array task per subject, then the group job), and
// summarise where a submitted cohort stands.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "petpipe/core/bids.hpp"
#include "petpipe/core/error.hpp"
#include "petpipe/core/layout.hpp"
#include "petpipe/core/log.hpp"
#include "petpipe/core/nifti_io.hpp"
#include "petpipe/pipeline/command.hpp"
#include "petpipe/pipeline/config.hpp"
#include "petpipe/pipeline/runner.hpp"
#include "petpipe/pipeline/slurm.hpp"
#include "petpipe/pipeline/stage_params.hpp"

namespace petpipe::cli {

namespace {

using namespace petpipe::pipeline;
namespace fs = std::filesystem;

fs::path absolute_path(const std::string& p) { return fs::weakly_canonical(fs::absolute(p)); }

std::string now_iso() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

std::string join(const std::vector<std::string>& v, const std::string& sep = " ") {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

// A program's output on one line: its lines joined with "; ".
std::string one_line(const std::string& s) {
  std::istringstream in(s);
  std::string line, all;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (!line.empty()) all += (all.empty() ? "" : "; ") + line;
  }
  return all.empty() ? "(no output)" : all;
}

// The status file of a PET scan: same subject, session and tracer. The runner names the tracer from the
// configuration when it gives one, which may differ from the file's trc- entity: a scan that is the only
// one of its subject and session then takes that subject's and session's status file whatever its tracer.
const StatusFile* find_status(const bids::PetScan& scan, const std::vector<bids::PetScan>& all_scans,
                              const std::vector<StatusFile>& statuses) {
  const StatusFile* found = nullptr;
  for (const auto& st : statuses)
    if (st.subject == scan.subject && st.session == scan.session && st.tracer == scan.tracer) found = &st;
  if (found) return found;
  std::size_t siblings = 0;
  for (const auto& s : all_scans) siblings += s.subject == scan.subject && s.session == scan.session;
  if (siblings != 1) return nullptr;
  for (const auto& st : statuses)
    if (st.subject == scan.subject && st.session == scan.session) found = &st;
  return found;
}

// Finds sbatch (--sbatch or PATH) and scontrol (beside sbatch, else PATH).
struct SlurmTools {
  std::optional<fs::path> sbatch;
  std::optional<fs::path> scontrol;
};

SlurmTools find_tools(const po::variables_map& vm, bool need_sbatch) {
  SlurmTools t;
  if (vm.count("sbatch")) {
    const fs::path p = vm["sbatch"].as<std::string>();
    std::error_code ec;
    if (!fs::is_regular_file(p, ec) || ::access(p.c_str(), X_OK) != 0)
      throw make_error("--sbatch ", p.string(), ": not an executable file");
    t.sbatch = fs::absolute(p);
  } else {
    t.sbatch = find_on_path("sbatch");
  }
  if (need_sbatch && !t.sbatch)
    throw Error("sbatch not found on PATH: install Slurm's client commands (Debian: slurm-client) or give "
                "--sbatch PATH");
  std::error_code ec;
  if (t.sbatch && fs::is_regular_file(t.sbatch->parent_path() / "scontrol", ec))
    t.scontrol = t.sbatch->parent_path() / "scontrol";
  else
    t.scontrol = find_on_path("scontrol");
  return t;
}

struct Submissions {
  fs::path file;
  nlohmann::json j = {{"submissions", nlohmann::json::array()}};
};

Submissions read_submissions(const fs::path& out) {
  Submissions s;
  s.file = layout::cohort_layout(out).slurm_submissions;
  std::error_code ec;
  if (fs::exists(s.file, ec)) {
    s.j = read_json(s.file);
    if (!s.j.contains("submissions") || !s.j["submissions"].is_array())
      throw make_error(s.file.string(), ": no \"submissions\" array (not written by petpipe slurm?)");
  }
  return s;
}

// Slurm's knowledge of a job: `scontrol -o show job ID` while it is known to slurmctld; afterwards the
// job-completion text file (JobCompLoc of `scontrol show config`, with JobCompType=jobcomp/filetxt).
struct SlurmView {
  std::optional<fs::path> scontrol;
  std::vector<SlurmRecord> jobcomp;
  bool have_jobcomp = false;

  SlurmView(std::optional<fs::path> sc, bool load_jobcomp) : scontrol(std::move(sc)) {
    if (!scontrol || !load_jobcomp) return;
    try {
      const auto cfg = run_process({scontrol->string(), "show", "config"});
      if (cfg.exit_code != 0) return;
      std::istringstream lines(cfg.out);
      std::string line, type, loc;
      while (std::getline(lines, line)) {
        std::istringstream w(line);
        std::string key, eq, value;
        w >> key >> eq >> value;
        if (key == "JobCompType") type = value;
        if (key == "JobCompLoc") loc = value;
      }
      if (type == "jobcomp/filetxt" && !loc.empty()) {
        std::ifstream in(loc);
        if (in) {
          std::stringstream ss;
          ss << in.rdbuf();
          jobcomp = parse_slurm_records(ss.str());
          have_jobcomp = true;
        }
      }
    } catch (const Error& e) {
      log::debug("scontrol show config: ", e.what());
    }
  }

  std::vector<SlurmRecord> live(const std::string& job_id) const {
    if (!scontrol || job_id.empty()) return {};
    try {
      const auto r = run_process({scontrol->string(), "-o", "show", "job", job_id});
      if (r.exit_code == 0) return parse_slurm_records(r.out);
    } catch (const Error& e) {
      log::debug("scontrol show job ", job_id, ": ", e.what());
    }
    return {};
  }

  // Array task -> state; jobcomp first, then live records (newer) override.
  std::map<int, std::string> array_states(const std::string& array_id) const {
    auto states = array_task_states(jobcomp, array_id);
    for (const auto& [i, s] : array_task_states(live(array_id), array_id)) states[i] = s;
    return states;
  }

  // State and reason of a plain job ("" when Slurm knows nothing of it).
  std::pair<std::string, std::string> job_state(const std::string& id) const {
    std::pair<std::string, std::string> res;
    for (const auto& r : jobcomp)
      if (r.at("JobId") == id && r.count("JobState")) res = {r.at("JobState"), ""};
    for (const auto& r : live(id))
      if (r.at("JobId") == id && r.count("JobState"))
        res = {r.at("JobState"), r.count("Reason") ? r.at("Reason") : ""};
    return res;
  }
};

// ---------------------------------------------------------------------------------------------------
int run_status(const po::variables_map& vm, const fs::path& out) {
  std::error_code ec;
  if (!fs::is_directory(out, ec)) throw make_error(out.string(), ": output directory not found");
  const auto statuses = read_status_files(out);
  const auto subs = read_submissions(out);
  const auto tools = find_tools(vm, false);
  // Slurm is asked only about jobs petpipe submitted (a configured but unreachable cluster is slow to
  // answer).
  const bool submitted_before = !subs.j["submissions"].empty();
  SlurmView slurm(submitted_before ? tools.scontrol : std::nullopt, true);

  // Subject -> latest Slurm task of it ("12_3") and that task's state.
  struct Task {
    std::string id, state;
  };
  std::map<std::string, Task> task_of;
  std::set<std::string> submitted;
  std::vector<std::string> group_lines;
  for (const auto& s : subs.j["submissions"]) {
    const auto subjects = s.value("subjects", std::vector<std::string>{});
    const std::string array_id = s.value("array_job", "");
    const std::string group_id = s.value("group_job", "");
    std::map<int, std::string> states;
    if (!array_id.empty()) states = slurm.array_states(array_id);
    for (std::size_t i = 0; i < subjects.size(); ++i) {
      submitted.insert(subjects[i]);
      Task t;
      t.id = array_id + "_" + std::to_string(i);
      auto it = states.find(static_cast<int>(i));
      t.state = it == states.end() ? "" : it->second;
      task_of[subjects[i]] = t;
    }
    if (!group_id.empty()) {
      auto [state, reason] = slurm.job_state(group_id);
      group_lines.push_back("group job " + group_id + " (submission " + std::to_string(s.value("n", 0)) +
                            "): " + (state.empty() ? "unknown to Slurm" : state) +
                            (reason.empty() || reason == "None" ? "" : " (" + reason + ")"));
    }
  }

  // The cohort: the BIDS dataset's PET scans when --bids is given, else what the status files and the
  // submissions name.
  struct Row {
    std::string subject, tracer, status, duration, job, detail;
  };
  std::vector<Row> rows;
  std::set<std::string> subjects;
  std::vector<bids::PetScan> scans;
  if (vm.count("bids")) {
    const auto ds = bids::scan_dataset(absolute_path(vm["bids"].as<std::string>()));
    scans = ds.pet;
    for (const auto& s : ds.pet) subjects.insert(s.subject);
  } else {
    for (const auto& s : statuses) subjects.insert(s.subject);
    subjects.insert(submitted.begin(), submitted.end());
  }
  std::map<std::string, int> counts;
  for (const auto& sub : subjects) {
    std::vector<StatusFile> mine;
    if (!scans.empty()) {
      for (const auto& scan : scans) {
        if (scan.subject != sub) continue;
        StatusFile found;
        found.subject = sub;
        found.tracer = scan.tracer;
        if (const StatusFile* st = find_status(scan, scans, statuses)) found = *st;
        mine.push_back(found);
      }
    } else {
      for (const auto& st : statuses)
        if (st.subject == sub) mine.push_back(st);
      if (mine.empty()) {
        StatusFile none;
        none.subject = sub;
        mine.push_back(none);
      }
    }
    const auto t = task_of.find(sub);
    for (const auto& st : mine) {
      Row r;
      r.subject = sub;
      r.tracer = st.tracer.empty() ? "-" : st.tracer;
      r.status = st.status.empty() ? "not run" : st.status;
      r.duration = st.status.empty() ? "-" : [&] {
        std::ostringstream d;
        d << std::fixed << std::setprecision(1) << st.duration_s;
        return d.str();
      }();
      r.job = t == task_of.end() ? "-" : t->second.id;
      if (st.status == "failed") {
        r.detail = st.error;
        if (!st.failed_stage.empty() && st.error.rfind(st.failed_stage, 0) != 0)
          r.detail = st.failed_stage + ": " + st.error;
      }
      else if (st.status == "unreadable")
        r.detail = st.error;
      if (t != task_of.end() && !t->second.state.empty()) {
        const std::string& js = t->second.state;
        if (is_active_state(js)) {
          r.status = js == "PENDING" ? "queued" : "running";
          r.detail = "Slurm " + js;
        } else if (js != "COMPLETED" && r.status != "complete") {
          // Failed, or ended by Slurm (time limit, memory, node failure, cancelled) before the runner
          // could write its status.
          if (r.status == "not run") r.status = "failed";
          const auto us = t->second.id.find('_');
          const fs::path log = layout::cohort_layout(out).slurm_logs /
                               ("sub-" + sub + "_" + t->second.id.substr(0, us) + "_" + t->second.id.substr(us + 1) + ".log");
          r.detail += std::string(r.detail.empty() ? "" : "; ") + "Slurm job " + t->second.id + " ended " + js +
                      " (log: " + log.string() + ")";
        }
      }
      ++counts[r.status];
      rows.push_back(std::move(r));
    }
  }

  std::ostringstream os;
  os << "cohort: " << out.string() << " (" << subjects.size() << " subjects, " << rows.size() << " scans)\n";
  std::size_t w_sub = 7, w_trc = 6, w_st = 8, w_job = 3;
  for (const auto& r : rows) {
    w_sub = std::max(w_sub, r.subject.size());
    w_trc = std::max(w_trc, r.tracer.size());
    w_st = std::max(w_st, r.status.size());
    w_job = std::max(w_job, r.job.size());
  }
  auto pad = [](const std::string& s, std::size_t w) { return s + std::string(w > s.size() ? w - s.size() : 0, ' '); };
  os << pad("subject", w_sub) << "  " << pad("tracer", w_trc) << "  " << pad("status", w_st) << "  "
     << pad("duration_s", 10) << "  " << pad("job", w_job) << "  detail\n";
  for (const auto& r : rows)
    os << pad(r.subject, w_sub) << "  " << pad(r.tracer, w_trc) << "  " << pad(r.status, w_st) << "  "
       << pad(r.duration, 10) << "  " << pad(r.job, w_job) << "  " << r.detail << "\n";
  for (const auto& g : group_lines) os << g << "\n";
  os << "summary:";
  bool first = true;
  for (const char* k : {"complete", "failed", "running", "queued", "not run"}) {
    os << (first ? " " : ", ") << counts[k] << " " << k;
    first = false;
  }
  for (const auto& [k, n] : counts)
    if (k != "complete" && k != "failed" && k != "running" && k != "queued" && k != "not run")
      os << ", " << n << " " << k;
  os << "\n";
  if (!tools.scontrol) os << "note: scontrol not found; queued and running jobs are not shown\n";
  else if (!slurm.have_jobcomp && submitted_before)
    os << "note: no job-completion text file (JobCompType=jobcomp/filetxt); jobs Slurm has forgotten are "
          "shown from their status files only\n";
  std::cout << os.str();
  return 0;
}

// ---------------------------------------------------------------------------------------------------
int run_slurm(const po::variables_map& vm) {
  if (!vm.count("out")) throw Error("--out DIR is required");
  const fs::path out = absolute_path(vm["out"].as<std::string>());
  if (vm.count("status")) return run_status(vm, out);
  if (!vm.count("bids")) throw Error("--bids DIR is required");
  if (!vm.count("config")) throw Error("--config FILE is required");
  const fs::path bids_dir = absolute_path(vm["bids"].as<std::string>());
  const fs::path config = absolute_path(vm["config"].as<std::string>());
  std::error_code ec;
  if (!fs::is_regular_file(config, ec)) throw make_error(config.string(), ": configuration file not found");
  if (fs::exists(out, ec) && !fs::is_directory(out, ec))
    throw make_error(out.string(), ": exists and is not a directory");

  // The whole configuration is checked first; the job resources are its "slurm" section with the
  // command line on top.
  const nlohmann::json user = pipeline::read_config(config);
  SlurmResources res;
  if (user.contains("slurm")) pipeline::slurm_table().apply_json(user["slurm"], res, config.string());
  pipeline::slurm_table().apply_vm(vm, res);
  validate(res);

  const bool dry_run = vm.count("dry-run") > 0;
  const bool no_group = vm.count("no-group") > 0;
  const auto tools = find_tools(vm, !dry_run);

  fs::path exe;
  if (vm.count("petpipe")) {
    exe = absolute_path(vm["petpipe"].as<std::string>());
    if (!fs::is_regular_file(exe, ec)) throw make_error("--petpipe ", exe.string(), ": not found");
  } else {
    exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) throw Error("cannot find the petpipe executable (/proc/self/exe); give --petpipe PATH");
  }

  std::vector<std::string> labels;
  if (vm.count("participant-label")) labels = vm["participant-label"].as<std::vector<std::string>>();
  const auto ds = bids::scan_dataset(bids_dir, labels);
  std::map<std::string, std::vector<bids::PetScan>> scans_of;
  for (const auto& s : ds.pet) scans_of[s.subject].push_back(s);
  for (const auto& sub : ds.subjects)
    if (!scans_of.count(sub)) log::warn(bids_dir.string(), ": sub-", sub, " has no PET scan; not submitted");
  if (scans_of.empty()) throw make_error(bids_dir.string(), ": no PET scans (sub-*/[ses-*/]pet/*_pet.nii[.gz])");
  {
    pipeline::RunOptions ro;
    ro.bids = bids_dir;
    ro.out = out;
    ro.user_config = user;
    ro.config_source = config.string();
    pipeline::scan_configs(ds, ro);  // every scan's effective configuration, checked before anything is written
  }

  // Subjects still to run: those with a PET scan lacking a "complete" status file (all with --force).
  const auto statuses = read_status_files(out);
  std::vector<std::string> to_run, complete;
  for (const auto& [sub, scans] : scans_of) {
    bool done = true;
    for (const auto& scan : scans) {
      const StatusFile* st = find_status(scan, ds.pet, statuses);
      done = done && st && st->status == "complete";
    }
    (done && !vm.count("force") ? complete : to_run).push_back(sub);
  }

  auto subs = read_submissions(out);
  const int n = static_cast<int>(subs.j["submissions"].size()) + 1;
  const fs::path slurm_dir = layout::cohort_layout(out).slurm_dir;
  SlurmJobSpec spec;
  spec.petpipe = exe;
  spec.bids = bids_dir;
  spec.out = out;
  spec.config = config;
  spec.subjects_file = slurm_dir / ("subjects-" + std::to_string(n) + ".txt");
  spec.log_dir = layout::cohort_layout(out).slurm_logs;
  spec.n_subjects = to_run.size();
  spec.resources = res;
  spec.allow_missing = vm.count("allow-missing") > 0;
  if (ds.participants) spec.participants = *ds.participants;
  const fs::path array_file = slurm_dir / ("run-" + std::to_string(n) + ".sbatch");
  const fs::path group_file = slurm_dir / ("group-" + std::to_string(n) + ".sbatch");

  if (dry_run) {
    std::ostringstream os;
    os << "# petpipe slurm --dry-run: nothing is written or submitted.\n"
       << "# " << complete.size() << " of " << scans_of.size() << " subjects complete"
       << (complete.empty() ? "" : " (" + join(complete) + ")") << "; " << to_run.size() << " to run"
       << (to_run.empty() ? "" : ": " + join(to_run)) << "\n";
    if (!to_run.empty()) {
      os << "# ---- " << spec.subjects_file.string() << "\n";
      for (const auto& s : to_run) os << s << "\n";
      os << "# ---- " << array_file.string() << "\n" << array_script(spec);
    }
    if (!no_group) {
      os << "# ---- " << group_file.string() << "\n"
         << group_script(spec, to_run.empty() ? "" : "<array job id>");
    }
    os << "# ---- commands\n";
    const std::string sb = tools.sbatch ? tools.sbatch->string() : "sbatch";
    if (!to_run.empty()) os << sb << " --parsable " << array_file.string() << "\n";
    if (!no_group) os << sb << " --parsable " << group_file.string() << "\n";
    std::cout << os.str();
    return 0;
  }

  if (to_run.empty() && no_group) {
    std::cout << "all " << complete.size() << " subjects complete; nothing to submit\n";
    return 0;
  }

  // Refuse to submit a subject that an earlier submission still has queued or running.
  if (!to_run.empty() && !subs.j["submissions"].empty()) {
    const SlurmView slurm(tools.scontrol, false);
    std::vector<std::string> busy;
    for (const auto& s : subs.j["submissions"]) {
      const std::string array_id = s.value("array_job", "");
      if (array_id.empty()) continue;
      const auto subjects = s.value("subjects", std::vector<std::string>{});
      for (const auto& [i, state] : array_task_states(slurm.live(array_id), array_id))
        if (is_active_state(state) && i >= 0 && static_cast<std::size_t>(i) < subjects.size() &&
            std::find(to_run.begin(), to_run.end(), subjects[i]) != to_run.end())
          busy.push_back("sub-" + subjects[i] + " (job " + array_id + "_" + std::to_string(i) + " " + state + ")");
    }
    if (!busy.empty())
      throw make_error(out.string(), ": an earlier submission still has ", join(busy, ", "),
                       "; wait for it (petpipe slurm --status) or scancel it");
  }

  fs::create_directories(spec.log_dir, ec);
  if (ec) throw make_error(spec.log_dir.string(), ": cannot create: ", ec.message());

  auto submit = [&](const fs::path& script) {
    const auto r = run_process({tools.sbatch->string(), "--parsable", script.string()});
    if (r.exit_code != 0)
      throw make_error(tools.sbatch->string(), " rejected ", script.string(), " (exit ", r.exit_code,
                       "): ", one_line(r.err.empty() ? r.out : r.err));
    try {
      return parse_job_id(r.out);
    } catch (Error& e) {
      throw e.add_context(script.string());
    }
  };

  nlohmann::json record = {{"n", n},
                           {"submitted", now_iso()},
                           {"subjects", to_run},
                           {"complete_before", complete},
                           {"allow_missing", spec.allow_missing},
                           {"array_job", ""},
                           {"group_job", ""}};
  auto save_record = [&] {
    auto all = read_submissions(out);  // re-read: keep what others may have added
    auto& list = all.j["submissions"];
    bool replaced = false;
    for (auto& s : list)
      if (s.value("n", 0) == n) s = record, replaced = true;
    if (!replaced) list.push_back(record);
    write_json(all.file, all.j);
  };

  std::string array_id;
  if (!to_run.empty()) {
    std::string lines;
    for (const auto& s : to_run) lines += s + "\n";
    write_text(spec.subjects_file, lines);
    write_text(array_file, array_script(spec));
    record["subjects_file"] = spec.subjects_file.string();
    record["array_script"] = array_file.string();
    array_id = submit(array_file);
    record["array_job"] = array_id;
    save_record();
    std::cout << "submitted array job " << array_id << ": " << to_run.size() << " subject"
              << (to_run.size() == 1 ? "" : "s") << " (" << join(to_run) << "), at most " << res.max_parallel
              << " at once; logs in " << spec.log_dir.string() << "\n";
  }
  if (!complete.empty())
    std::cout << complete.size() << " subject" << (complete.size() == 1 ? "" : "s")
              << " already complete, not resubmitted: " << join(complete) << "\n";
  if (!no_group) {
    write_text(group_file, group_script(spec, array_id));
    record["group_script"] = group_file.string();
    std::string group_id;
    try {
      group_id = submit(group_file);
    } catch (Error& e) {
      if (!array_id.empty()) e.add_context("array job " + array_id + " was submitted, the group job was not");
      throw;
    }
    record["group_job"] = group_id;
    save_record();
    std::cout << "submitted group job " << group_id;
    if (!array_id.empty())
      std::cout << (spec.allow_missing ? ", to run when array job " + array_id + " has ended (--allow-missing)"
                                       : ", to run when every task of array job " + array_id + " succeeded");
    std::cout << "\n";
  }
  std::cout << "follow with: petpipe slurm --status --out " << out.string() << "\n";
  return 0;
}

}  // namespace

Command slurm_command() {
  Command c;
  c.name = "slurm";
  c.synopsis = "submit a cohort to Slurm (array of subjects, then the group job); --status";
  c.description =
      "Writes and submits an sbatch array with one task per subject of the BIDS dataset, each running "
      "`petpipe run --bids DIR --out OUT --config FILE --participant-label ID`, at most --max-parallel at "
      "once (%K), and a group job running `petpipe group --derivatives OUT --config FILE` with "
      "--dependency=afterok:<array job> and --kill-on-invalid-dep=yes: the group job runs only when every "
      "subject succeeded, and is cancelled by Slurm otherwise. With --allow-missing the dependency is "
      "afterany and `petpipe group --allow-missing` leaves out the subjects that failed.\n\n"
      "Files go to OUT/slurm/: the subject list of each submission (subjects-N.txt; array index i runs "
      "line i+1), the scripts (run-N.sbatch, group-N.sbatch), submissions.json (job ids) and logs/ "
      "(sub-ID_<array job>_<task>.log per subject, petpipe-group_<job>.log).\n\n"
      "A rerun submits only the subjects whose status files (OUT/sub-ID/*_status.json, written by "
      "`petpipe run`) are not all \"complete\" (all of them with --force), so after fixing a failed "
      "subject's input the same command finishes the cohort; it refuses to resubmit a subject that an "
      "earlier submission still has queued or running.\n\n"
      "--status summarises the cohort from the status files, and for jobs still queued or running or "
      "ended by Slurm (time limit, memory, cancelled) from `scontrol show job` and the job-completion "
      "text file.\n\n"
      "sbatch is looked up on PATH (or given with --sbatch); its error is shown when it rejects a script. "
      "--dry-run prints the scripts and the commands and neither writes nor submits anything.";
  c.examples = {
      {"petpipe slurm --bids bids/ --out derivatives/ --config examples/carfentanil.json --partition normal "
       "--time 02:00:00 --mem 8G --cpus-per-task 4 --max-parallel 10",
       "Submit every subject, at most 10 at once, then the group analysis."},
      {"petpipe slurm --bids bids/ --out derivatives/ --config examples/carfentanil.json --dry-run",
       "Print the scripts that would be submitted."},
      {"petpipe slurm --status --out derivatives/", "Where the cohort stands: complete, failed (with the "
                                                    "error), running, queued, not run."},
      {"scripts/slurm_local.sh start && eval \"$(scripts/slurm_local.sh env)\"",
       "A private single-node Slurm on this machine to try it (scripts/slurm_local.sh stop ends it)."}};
  c.references = {"Slurm job arrays: https://slurm.schedmd.com/job_array.html",
                  "sbatch --dependency and --kill-on-invalid-dep: https://slurm.schedmd.com/sbatch.html"};
  c.add_options = [](po::options_description& d, po::positional_options_description&) {
    d.add_options()("bids", po::value<std::string>(), "PET-BIDS dataset directory")
        ("out", po::value<std::string>(), "derivatives directory (OUT)")
        ("config", po::value<std::string>(), "pipeline configuration (JSON)")
        ("participant-label", po::value<std::vector<std::string>>()->multitoken(),
         "only these subjects (labels with or without sub-)")
        ("allow-missing", "run the group job even when subjects failed (afterany; group --allow-missing)")
        ("no-group", "submit the subjects only, no group job")
        ("dry-run", "print the scripts and commands; write and submit nothing")
        ("status", "summarise the cohort in --out instead of submitting")
        ("sbatch", po::value<std::string>(), "the sbatch program (default: sbatch on PATH)")
        ("petpipe", po::value<std::string>(), "petpipe executable the jobs run (default: this one)");
    pipeline::slurm_table().add_options(d);
  };
  c.run = run_slurm;
  return c;
}

PETPIPE_REGISTER_COMMAND(slurm_command, 95)

}  // namespace petpipe::cli
