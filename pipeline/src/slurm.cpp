#include "petpipe/pipeline/slurm.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "petpipe/core/bids.hpp"
#include "petpipe/core/error.hpp"

namespace petpipe::pipeline {

void validate(const SlurmResources& r) {
  static const std::regex time_re(R"(^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2})$)");
  static const std::regex mem_re(R"(^\d+[KMGTkmgt]?$)");
  static const std::regex name_re(R"(^[A-Za-z0-9_.,+\-]+$)");
  if (!std::regex_match(r.time, time_re))
    throw make_error("--time ", r.time, ": not a Slurm time limit (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS)");
  if (!std::regex_match(r.mem, mem_re) || std::stoll(r.mem.substr(0, r.mem.find_first_not_of("0123456789"))) <= 0)
    throw make_error("--mem ", r.mem, ": not a memory size (a positive integer with optional K, M, G or T suffix)");
  if (r.cpus_per_task < 1) throw make_error("--cpus-per-task ", r.cpus_per_task, ": must be at least 1");
  if (r.max_parallel < 1) throw make_error("--max-parallel ", r.max_parallel, ": must be at least 1");
  if (!r.partition.empty() && !std::regex_match(r.partition, name_re))
    throw make_error("--partition ", r.partition, ": not a partition name");
  if (!r.account.empty() && !std::regex_match(r.account, name_re))
    throw make_error("--account ", r.account, ": not an account name");
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

namespace {

// A value in an #SBATCH line: sbatch splits these lines on blanks, honouring double quotes.
std::string directive_value(const std::string& s) {
  if (s.find_first_of(" \t\"") == std::string::npos) return s;
  if (s.find('"') != std::string::npos) throw make_error(s, ": a path with a double quote cannot be given to sbatch");
  return "\"" + s + "\"";
}

void resource_directives(std::ostringstream& os, const SlurmJobSpec& spec) {
  const auto& r = spec.resources;
  os << "#SBATCH --cpus-per-task=" << r.cpus_per_task << "\n"
     << "#SBATCH --mem=" << r.mem << "\n"
     << "#SBATCH --time=" << r.time << "\n";
  if (!r.partition.empty()) os << "#SBATCH --partition=" << r.partition << "\n";
  if (!r.account.empty()) os << "#SBATCH --account=" << r.account << "\n";
  os << "#SBATCH --chdir=" << directive_value(spec.out.string()) << "\n";
}

}  // namespace

std::string array_script(const SlurmJobSpec& spec) {
  if (spec.n_subjects == 0) throw Error("array_script: no subjects");
  std::ostringstream os;
  os << "#!/bin/bash\n"
     << "# Written by `petpipe slurm`: one array task per subject. Task i runs the subject on line i+1 of\n"
     << "# " << spec.subjects_file.string() << "\n"
     << "#SBATCH --job-name=petpipe-run\n"
     << "#SBATCH --array=0-" << spec.n_subjects - 1 << "%" << spec.resources.max_parallel << "\n";
  resource_directives(os, spec);
  os << "#SBATCH --output=" << directive_value((spec.log_dir / "petpipe-run_%A_%a.out").string()) << "\n"
     << "set -u\n"
     << "subjects=" << shell_quote(spec.subjects_file.string()) << "\n"
     << "task=${SLURM_ARRAY_TASK_ID:?this script is meant to run as a Slurm array task}\n"
     << "subject=$(sed -n \"$((task + 1))p\" \"$subjects\")\n"
     << "if [ -z \"$subject\" ]; then\n"
     << "  echo \"petpipe slurm: no subject on line $((task + 1)) of $subjects\" >&2\n"
     << "  exit 2\n"
     << "fi\n"
     << "log=" << shell_quote(spec.log_dir.string()) << "/sub-${subject}_${SLURM_ARRAY_JOB_ID}_${task}.log\n"
     << "echo \"petpipe slurm: task $task (job $SLURM_JOB_ID) runs sub-$subject on $(hostname); log: $log\"\n"
     << "exec " << shell_quote(spec.petpipe.string()) << " run --bids " << shell_quote(spec.bids.string())
     << " --out " << shell_quote(spec.out.string()) << " --config " << shell_quote(spec.config.string())
     << " --participant-label \"$subject\" --threads \"${SLURM_CPUS_PER_TASK:-1}\" >\"$log\" 2>&1\n";
  return os.str();
}

std::string group_script(const SlurmJobSpec& spec, const std::string& array_job_id) {
  std::ostringstream os;
  os << "#!/bin/bash\n"
     << "# Written by `petpipe slurm`: group statistics once the subjects' array job has ended.\n"
     << "#SBATCH --job-name=petpipe-group\n";
  if (!array_job_id.empty()) {
    // afterok: only when every array task succeeded; afterany with --allow-missing (the group step then
    // reports and leaves out the subjects that failed).
    os << "#SBATCH --dependency=" << (spec.allow_missing ? "afterany:" : "afterok:") << array_job_id << "\n"
       << "#SBATCH --kill-on-invalid-dep=yes\n";
  }
  resource_directives(os, spec);
  os << "#SBATCH --output=" << directive_value((spec.log_dir / "petpipe-group_%j.log").string()) << "\n"
     << "set -u\n"
     << "exec " << shell_quote(spec.petpipe.string()) << " group --derivatives " << shell_quote(spec.out.string())
     << " --config " << shell_quote(spec.config.string());
  if (spec.participants) os << " --participants " << shell_quote(spec.participants->string());
  if (spec.allow_missing) os << " --allow-missing";
  os << " --threads \"${SLURM_CPUS_PER_TASK:-1}\"\n";
  return os.str();
}

std::optional<fs::path> find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (!path) return std::nullopt;
  std::string dirs(path);
  std::size_t start = 0;
  while (start <= dirs.size()) {
    auto end = dirs.find(':', start);
    std::string d = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (d.empty()) d = ".";
    const fs::path p = fs::path(d) / name;
    std::error_code ec;
    if (fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0) return p;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return std::nullopt;
}

ProcessResult run_process(const std::vector<std::string>& argv) {
  if (argv.empty()) throw Error("run_process: no program");
  int out_pipe[2], err_pipe[2], exec_pipe[2];
  if (::pipe(out_pipe) != 0 || ::pipe(err_pipe) != 0 || ::pipe2(exec_pipe, O_CLOEXEC) != 0)
    throw make_error(argv[0], ": cannot create pipes: ", std::strerror(errno));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw make_error(argv[0], ": cannot fork: ", std::strerror(errno));
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[0]);
    ::close(err_pipe[1]);
    ::close(exec_pipe[0]);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execvp(args[0], args.data());
    const int e = errno;
    [[maybe_unused]] auto n = ::write(exec_pipe[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(exec_pipe[1]);
  ProcessResult r;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int exec_errno = 0;
  const bool exec_failed = ::read(exec_pipe[0], &exec_errno, sizeof exec_errno) == sizeof exec_errno;
  ::close(exec_pipe[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (exec_failed) throw make_error(argv[0], ": cannot run: ", std::strerror(exec_errno));
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string parse_job_id(const std::string& text) {
  static const std::regex id_re(R"(^\s*(\d+)(;\S*)?\s*$)");
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_match(line, m, id_re)) return m[1];
  }
  throw make_error("sbatch printed no job id (output: \"", text, "\")");
}

std::vector<SlurmRecord> parse_slurm_records(const std::string& text) {
  std::vector<SlurmRecord> records;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    SlurmRecord rec;
    std::istringstream words(line);
    std::string w;
    while (words >> w) {
      const auto eq = w.find('=');
      if (eq == std::string::npos || eq == 0) continue;
      rec.emplace(w.substr(0, eq), w.substr(eq + 1));
    }
    if (rec.count("JobId")) records.push_back(std::move(rec));
  }
  return records;
}

std::vector<int> parse_index_list(const std::string& s) {
  std::vector<int> out;
  const std::string list = s.substr(0, s.find('%'));
  std::istringstream parts(list);
  std::string part;
  while (std::getline(parts, part, ',')) {
    if (part.empty()) continue;
    const auto dash = part.find('-');
    try {
      if (dash == std::string::npos) {
        out.push_back(std::stoi(part));
      } else {
        const int a = std::stoi(part.substr(0, dash)), b = std::stoi(part.substr(dash + 1));
        if (b - a > 1000000) throw make_error("array index range ", part, " is too large");
        for (int i = a; i <= b; ++i) out.push_back(i);
      }
    } catch (const std::logic_error&) {
      throw make_error("\"", s, "\": not a Slurm array index list");
    }
  }
  return out;
}

std::map<int, std::string> array_task_states(const std::vector<SlurmRecord>& records,
                                             const std::string& array_job_id) {
  std::map<int, std::string> states;
  for (const auto& r : records) {
    auto a = r.find("ArrayJobId");
    auto t = r.find("ArrayTaskId");
    auto s = r.find("JobState");
    if (a == r.end() || t == r.end() || s == r.end() || a->second != array_job_id) continue;
    for (int i : parse_index_list(t->second)) states[i] = s->second;
  }
  return states;
}

bool is_active_state(const std::string& s) {
  for (const char* a : {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED",
                        "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED"})
    if (s == a) return true;
  return false;
}

std::vector<StatusFile> read_status_files(const fs::path& out) {
  std::vector<StatusFile> all;
  std::error_code ec;
  if (!fs::is_directory(out, ec)) return all;
  std::vector<fs::path> files;
  auto scan_dir = [&](const fs::path& d) {
    for (const auto& e : fs::directory_iterator(d, ec)) {
      const std::string n = e.path().filename().string();
      if (e.is_regular_file(ec) && n.size() > 12 && n.compare(n.size() - 12, 12, "_status.json") == 0)
        files.push_back(e.path());
    }
  };
  for (const auto& e : fs::directory_iterator(out, ec)) {
    if (!e.is_directory(ec) || e.path().filename().string().rfind("sub-", 0) != 0) continue;
    scan_dir(e.path());
    for (const auto& s : fs::directory_iterator(e.path(), ec))
      if (s.is_directory(ec) && s.path().filename().string().rfind("ses-", 0) == 0) scan_dir(s.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    StatusFile st;
    st.file = f;
    // The subject is also in the path: OUT/sub-XX/...
    for (fs::path p = f.parent_path(); p != out && p.has_filename(); p = p.parent_path())
      if (p.filename().string().rfind("sub-", 0) == 0) st.subject = p.filename().string().substr(4);
    try {
      std::ifstream in(f);
      const auto j = nlohmann::json::parse(in);
      auto str = [&](const char* k) {
        return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
      };
      if (!str("subject").empty()) st.subject = str("subject");
      if (st.subject.rfind("sub-", 0) == 0) st.subject = st.subject.substr(4);
      st.session = str("session");
      st.tracer = str("tracer");
      st.status = str("status");
      st.error = str("error");
      st.failed_stage = str("failed_stage");
      if (j.contains("duration_s") && j["duration_s"].is_number()) st.duration_s = j["duration_s"];
      if (st.status.empty()) st.status = "unknown";
      // Entities of the file name fill in what the JSON leaves out.
      if (auto name = bids::parse_name(f.filename().string())) {
        if (st.session.empty()) st.session = name->get("ses").value_or("");
        if (st.tracer.empty()) st.tracer = name->get("trc").value_or("");
      }
    } catch (const std::exception& e) {
      st.status = "unreadable";
      st.error = f.string() + ": " + e.what();
    }
    all.push_back(std::move(st));
  }
  return all;
}

}  // namespace petpipe::pipeline
